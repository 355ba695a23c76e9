/*
 * export.h - grun export: a job graph as units of another engine
 * (grun(1) EXPORT).  Today systemd: one .service per job (a template
 * for instances) and an APP.target; what systemd cannot express (an
 * one_for_all or rest_for_one subtree, jobs joined by channels, a
 * readiness kind systemd lacks) runs as one unit that runs grun on a
 * generated sub-file, so behaviour is kept rather than approximated.
 * Every lossy mapping is a FILE:LINE warning (an error with --strict).
 *
 * Plain work on a loaded config: no runtime, no green threads.
 */
#ifndef GRUN_SV_EXPORT_H
#define GRUN_SV_EXPORT_H

/* sv_export_main() runs `grun export FORMAT FILE [options]` (argv[0] is
 * "export") and returns grun's exit status: 0, 1 (a file could not be
 * written, or would overwrite one grun export did not write) or 2 (usage,
 * errors in FILE, or a lossy mapping under --strict). */
int sv_export_main(int argc, char **argv);
#endif
