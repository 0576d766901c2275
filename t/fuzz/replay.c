/*
 * main() of a harness built without libFuzzer: the replay test that keeps
 * every crash the fuzzer ever found fixed (make check-unit).
 *
 *   fuzz-NAME.t                  TAP: every file of t/fuzz/corpus/NAME and
 *                                t/fuzz/regress/NAME, one test each
 *   fuzz-NAME.t FILE...          the same for the files given
 *   fuzz-NAME.t -make-seeds DIR  write the seed corpus into DIR
 *
 * FUZZ_DIR overrides t/fuzz (the tests run from the top of the tree). A file
 * that breaks an invariant aborts the program, as under libFuzzer; the name
 * of the file being replayed is printed first when the process dies.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../unit/tap.h"
#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define HAVE_DEATH_CALLBACK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define HAVE_DEATH_CALLBACK 1
#endif
#endif

#define INPUT_MAX (1 << 20)

static char **files;
static size_t nfiles, capfiles;
static const char *current;

static void current_report(void)
{
	if (current)
		fprintf(stderr, "fuzz-%s: died replaying %s\n", fuzz_name, current);
}

/* Say which file, then die of the signal as before. */
static void on_fatal(int sig)
{
	current_report();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void add_file(const char *path)
{
	if (nfiles == capfiles) {
		capfiles = capfiles ? 2 * capfiles : 64;
		files = realloc(files, capfiles * sizeof(*files));
		if (!files)
			bail_out("out of memory");
	}
	files[nfiles] = strdup(path);
	if (!files[nfiles++])
		bail_out("out of memory");
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of @dir not starting with '.', in name order; a missing dir is empty. */
static void add_dir(const char *dir)
{
	size_t first = nfiles;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		if (errno != ENOENT)
			bail_out("%s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			add_file(path);
	}
	closedir(d);
	qsort(files + first, nfiles - first, sizeof(*files), by_name);
}

static size_t read_input(const char *path, uint8_t *buf)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		bail_out("%s: %s", path, strerror(errno));
	n = fread(buf, 1, INPUT_MAX, f);
	if (ferror(f) || !feof(f))
		bail_out("%s: unreadable or larger than %d bytes", path, INPUT_MAX);
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	const char *root = getenv("FUZZ_DIR") ? getenv("FUZZ_DIR") : "t/fuzz";
	uint8_t *buf;
	char dir[4096];
	int rc;

	if (argc == 3 && strcmp(argv[1], "-make-seeds") == 0) {
		LLVMFuzzerInitialize(&argc, &argv);
		rc = fuzz_make_seeds(argv[2]);
		if (rc)
			fprintf(stderr, "fuzz-%s: seeds: %s\n", fuzz_name, strerror(-rc));
		return rc ? 1 : 0;
	}
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			add_file(argv[i]);
	} else {
		snprintf(dir, sizeof(dir), "%s/corpus/%s", root, fuzz_name);
		add_dir(dir);
		if (nfiles == 0)
			bail_out(
			    "no seed corpus in %s (run from the top of the tree, or set FUZZ_DIR)",
			    dir);
		snprintf(dir, sizeof(dir), "%s/regress/%s", root, fuzz_name);
		add_dir(dir);
	}
	plan((int)nfiles);
	/* A sanitizer reports faults itself, and says its last word to a callback. */
	signal(SIGABRT, on_fatal);
#ifdef HAVE_DEATH_CALLBACK
	__sanitizer_set_death_callback(current_report);
#else
	signal(SIGSEGV, on_fatal);
	signal(SIGBUS, on_fatal);
	signal(SIGFPE, on_fatal);
#endif
	buf = malloc(INPUT_MAX);
	if (!buf)
		bail_out("out of memory");
	LLVMFuzzerInitialize(&argc, &argv);
	for (size_t i = 0; i < nfiles; i++) {
		size_t n = read_input(files[i], buf);
		/* Exactly sized, as libFuzzer passes inputs: ASan sees any overread. */
		uint8_t *in = malloc(n ? n : 1);

		if (!in)
			bail_out("out of memory");
		memcpy(in, buf, n);
		current = files[i];
		fuzz_replay_reset();
		LLVMFuzzerTestOneInput(in, n);
		current = NULL;
		free(in);
		ok(1, "%s (%zu bytes)", files[i], n);
	}
	free(buf);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return done_testing();
}
