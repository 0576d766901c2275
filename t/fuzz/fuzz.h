/*
 * What every harness under t/fuzz provides, so that one source builds twice:
 *
 *   build/fuzz/fuzz-NAME   clang + libFuzzer's main (make fuzz): explores
 *   build/t/fuzz-NAME.t    any compiler + replay.c's main (make check-unit):
 *                          replays the seed corpus t/fuzz/corpus/NAME and the
 *                          regression inputs t/fuzz/regress/NAME as TAP
 *
 * A harness states its invariants with fuzz_check(); a broken one aborts, so
 * libFuzzer saves the input as a crash and the replay test dies on it alike.
 */
#ifndef UML_FUZZ_H
#define UML_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (also called by replay.c). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness's name: its corpus and regression directories are named after it. */
extern const char fuzz_name[];
/*
 * Before each replayed file: put any state the harness keeps across inputs
 * back to its start, so that a file replays the same way wherever it comes.
 */
void fuzz_replay_reset(void);
/* Write the seed corpus into the existing directory @dir; 0 or a negative errno. */
int fuzz_make_seeds(const char *dir);

/* Write @len bytes to @dir/@name (helper for fuzz_make_seeds). */
int fuzz_write_seed(const char *dir, const char *name, const void *data, size_t len);

/* Report a broken invariant and abort. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#define fuzz_check(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__VA_ARGS__);                                                    \
	} while (0)

#endif
