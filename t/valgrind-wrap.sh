#!/bin/sh
# valgrind-wrap.sh - LOG_COMPILER of the C tests (see Makefile.am).
#
# Runs the test as is, or under Valgrind when GRUN_VALGRIND=1 (make
# check-valgrind sets it).  Any Valgrind error or definite leak makes the
# test exit 99, which the TAP driver reports as ERROR; the report itself
# is in the test's .log.  Extra Valgrind options: GRUN_VALGRIND_FLAGS.

if test "${GRUN_VALGRIND:-0}" = 1; then
	exec valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite ${GRUN_VALGRIND_FLAGS} "$@"
fi
exec "$@"
