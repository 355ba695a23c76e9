/*
 * ctlpath.c - see ctlpath.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise/ctlpath.h"

int sv_ctl_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (geteuid() == 0)
		n = snprintf(buf, len, "/run/grun");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/grun", xdg);
	else
		n = snprintf(buf, len, "/tmp/grun-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int sv_ctl_default_path(const char *config, char *buf, size_t len)
{
	char real[PATH_MAX], dir[PATH_MAX], name[33];
	if (!realpath(config, real) || sv_ctl_dir(dir, sizeof dir) < 0)
		return -1;
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = real; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	const char *base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	size_t bl = strlen(base);
	if (bl > 4 && strcmp(base + bl - 4, ".ini") == 0)
		bl -= 4;
	size_t k = 0;
	for (size_t i = 0; i < bl && k < sizeof name - 1; i++) {
		char c = base[i];
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		            c == '.' || c == '_' || c == '-';
		name[k++] = plain ? c : '_';
	}
	name[k] = '\0';
	int n = snprintf(buf, len, "%s/%s-%08x.sock", dir, name, (unsigned)(h ^ h >> 32));
	if (n < 0 || (size_t)n >= len || (size_t)n > SV_CTL_PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
