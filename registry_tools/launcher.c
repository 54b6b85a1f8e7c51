/*
 * The executable Terraform starts: a static program that needs nothing from
 * the host (no shell, no libc, no dynamic loader). A dynamically linked ELF
 * names its loader by an absolute path (PT_INTERP, /lib64/ld-linux-x86-64.so.2),
 * which a bare container does not have, so this launcher runs the loader that
 * travels in the package explicitly:
 *
 *   <dir>/runtime/lib/<loader> --inhibit-cache --library-path <dir>/runtime/lib
 *       <dir>/runtime/bin/python3.11 PYTHON_ARGS... ARGS...
 *
 * PYTHON_ARGS come from registry_tools/launcher.py (their one home): -I keeps
 * the host's PYTHON* variables and user site out, and a short bootstrap runs
 * provider.main as -m would. argv passes through, so `<exe> connector` runs
 * the connector.
 *
 * The environment passes through except the loader's own variables:
 * LD_PRELOAD, LD_AUDIT and LD_LIBRARY_PATH name libraries built for the
 * host's C library, and a host that preloads one built for a newer glibc
 * would stop our loader before Python starts. /etc/ld.so.preload is still
 * read by the bundled loader (glibc reads it however the loader is started);
 * in a bare container it is the container's own file.
 *
 * Terraform shows nothing a provider writes to stderr before the handshake,
 * only the first line of its stdout ("Unrecognized remote plugin message:
 * <line>"). So when it starts the provider (not `connector`, whose stdout
 * is the protocol to Tarmak), until Python runs, stderr points at stdout:
 * this launcher, a loader or an interpreter that cannot start says why
 * where Terraform shows it. The real stderr waits on another descriptor,
 * named in TARMAK_LAUNCHER_STDERR_FD, and the bootstrap puts it back before
 * the provider writes anything.
 *
 * Even that line can be lost. go-plugin (in every Terraform release) reads
 * stdout on one goroutine while another waits for stderr to close, reaps the
 * process and closes the stdout pipe; when the process writes its reason and
 * exits at once, the second may win, and Terraform shows an empty message
 * (a one-line script provider lost it in 9 of 480 starts under load, on
 * 1.0.3 and 1.11.4; this package, before the holder, in 6 of 480). So a
 * small child, the stderr holder, keeps the real stderr open until the
 * bootstrap says Python runs (a byte on the pipe named in
 * TARMAK_LAUNCHER_STARTED, which also names the holder for the bootstrap to
 * reap), or for LINGER_MS after the process died without saying so: long
 * enough for the line to be read (0 of 480 lost, docs/publishing.md).
 *
 * The loader splits --library-path at ':', and Terraform's plugin directory has
 * one whenever the registry address has a port (.terraform/providers/host:8443/...).
 * So the library directory is opened here and passed as /proc/self/fd/N, which
 * stays valid across execve (the descriptor is not close-on-exec).
 * Built by registry_tools/launcher.py with LOADER set per architecture.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef LOADER
#error "build with -DLOADER=\"ld-linux-<arch>.so.N\""
#endif

#ifndef PYTHON_ARGS
#error "build with -DPYTHON_ARGS=... (registry_tools/launcher.py sets it)"
#endif

static const char *const python_args[] = {PYTHON_ARGS};
#ifndef STDERR_FD_VARIABLE
#error "build with -DSTDERR_FD_VARIABLE=... (registry_tools/launcher.py sets it)"
#endif
#ifndef STARTED_VARIABLE
#error "build with -DSTARTED_VARIABLE=... (registry_tools/launcher.py sets it)"
#endif
#define N_PYTHON_ARGS (sizeof python_args / sizeof python_args[0])

#define LINGER_MS 500

/* Moves the real stderr to a descriptor of its own, named in
 * STDERR_FD_VARIABLE, and points stderr at stdout; returns that descriptor,
 * or -1 (stderr left as it was) when it cannot. */
static int point_stderr_at_stdout(void) {
    int real_stderr = fcntl(STDERR_FILENO, F_DUPFD, 10);
    if (real_stderr < 0) return -1;
    char number[16];
    snprintf(number, sizeof number, "%d", real_stderr);
    if (setenv(STDERR_FD_VARIABLE, number, 1) != 0 || dup2(STDOUT_FILENO, STDERR_FILENO) < 0) {
        unsetenv(STDERR_FD_VARIABLE);
        close(real_stderr);
        return -1;
    }
    return real_stderr;
}

/* The holder's whole life: stderr open until a byte arrives (Python runs) or,
 * if every writer is gone without one, LINGER_MS longer. */
static void hold_stderr(int started) {
    char byte;
    ssize_t got;
    do got = read(started, &byte, 1); while (got < 0 && errno == EINTR);
    if (got != 1) {
        struct timespec left = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000000L};
        while (nanosleep(&left, &left) != 0 && errno == EINTR) {}
    }
    _exit(0);
}

/* Forks the stderr holder (see the top of this file), which keeps only the
 * real stderr and its pipe, and names the pipe and its pid in
 * STARTED_VARIABLE; without a holder the start goes on as before. */
static void start_stderr_holder(void) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return;
    pid_t holder = fork();
    if (holder == 0) {
        close(pipe_fds[1]);
        close(STDIN_FILENO);
        close(STDOUT_FILENO);
        close(STDERR_FILENO);
        hold_stderr(pipe_fds[0]);
    }
    close(pipe_fds[0]);
    char value[48];
    snprintf(value, sizeof value, "%d,%ld", pipe_fds[1], (long)holder);
    if (holder < 0 || setenv(STARTED_VARIABLE, value, 1) != 0) close(pipe_fds[1]);
}

/* The directory holding this executable: /proc/self/exe, or argv[0] without /proc. */
static int own_directory(const char *argv0, char *out, size_t size) {
    ssize_t length = readlink("/proc/self/exe", out, size - 1);
    if (length > 0) {
        out[length] = '\0';
    } else {
        if (strchr(argv0, '/') == NULL || strlen(argv0) >= size) return -1;
        strcpy(out, argv0);
    }
    char *slash = strrchr(out, '/');
    if (slash == NULL) return -1;
    if (slash == out) slash[1] = '\0';
    else *slash = '\0';
    return 0;
}

/* out = dir + suffix; -1 when the path does not fit. */
static int join(char *out, size_t size, const char *dir, const char *suffix) {
    size_t a = strlen(dir), b = strlen(suffix);
    if (a + b + 1 > size) return -1;
    memcpy(out, dir, a);
    memcpy(out + a, suffix, b + 1);
    return 0;
}

/* Opens /dev/null on any of 0, 1 and 2 that is closed, so that no descriptor
 * opened later (the holder's pipe, the library directory) takes its place. */
static void open_standard_descriptors(void) {
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int null = open("/dev/null", O_RDWR);
            if (null >= 0 && null != fd) close(null); /* not the lowest free: leave it */
        }
    }
}

int main(int argc, char **argv) {
    open_standard_descriptors();
    unsetenv(STDERR_FD_VARIABLE); /* set below, never taken from the caller */
    unsetenv(STARTED_VARIABLE);
    /* The connector's stdout carries the framed protocol to Tarmak, which reads
     * its stderr: there the launcher's, loader's and interpreter's reasons stay
     * on stderr. Only the provider's start is read by go-plugin. */
    int connector = argc > 1 && strcmp(argv[1], "connector") == 0;
    if (!connector && point_stderr_at_stdout() >= 0) start_stderr_holder();

    char dir[PATH_MAX], loader[PATH_MAX], libs[PATH_MAX], python[PATH_MAX];
    if (own_directory(argc > 0 ? argv[0] : "", dir, sizeof dir) != 0) {
        fputs("terraform-provider-tarmak: cannot find the package directory "
              "(no /proc/self/exe and argv[0] has no directory)\n", stderr);
        return 127;
    }
    if (join(loader, sizeof loader, dir, "/runtime/lib/" LOADER) != 0 ||
        join(libs, sizeof libs, dir, "/runtime/lib") != 0 ||
        join(python, sizeof python, dir, "/runtime/bin/python3.11") != 0) {
        fputs("terraform-provider-tarmak: the package directory's path is too long\n", stderr);
        return 127;
    }

    /* The library directory as the loader will see it: without ':' in it. */
    char fd_path[64];
    const char *library_path = libs;
    int libs_fd = open(libs, O_RDONLY | O_DIRECTORY);
    if (libs_fd >= 0 && access("/proc/self/fd", X_OK) == 0) {
        snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", libs_fd);
        library_path = fd_path;
    } else if (strchr(libs, ':') != NULL) {
        fprintf(stderr, "terraform-provider-tarmak: %s contains ':' and /proc is not mounted; "
                "the loader cannot search it\n", libs);
        return 127;
    }

    size_t count = 0;
    char **args = calloc((size_t)argc + N_PYTHON_ARGS + 6, sizeof *args);
    if (args == NULL) return 127;
    args[count++] = loader;
    args[count++] = "--inhibit-cache";
    args[count++] = "--library-path";
    args[count++] = (char *)library_path;
    args[count++] = python;
    for (size_t i = 0; i < N_PYTHON_ARGS; i++) args[count++] = (char *)python_args[i];
    for (int i = 1; i < argc; i++) args[count++] = argv[i];
    args[count] = NULL;

    unsetenv("LD_PRELOAD");
    unsetenv("LD_AUDIT");
    unsetenv("LD_LIBRARY_PATH");
    execv(loader, args);
    fprintf(stderr, "terraform-provider-tarmak: cannot run %s: %s\n", loader, strerror(errno));
    return 127;
}
