/*
 * clockms: print CLOCK_MONOTONIC in milliseconds (three decimals), for the
 * kclient guest, whose busybox date has no sub-second format. Two readings
 * around a command time it: t/kclient/init times the mount this way.
 * Built static by tools/kclient-prepare into the guest's /bin.
 */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 1;
	printf("%.3f\n", ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
	return 0;
}
