/*
 * spawn() and reap(): starting a short-lived tool (iptables-save, iptables-restore, nft, ipset)
 * with glibc's posix_spawn, which clones the calling thread with CLONE_VM|CLONE_VFORK: the child
 * runs in the agent's own memory until it execs. Node's child_process (libuv 1.52, Node 24) forks
 * on Linux instead: the kernel copies the page tables of the agent's 100 MiB and marks every page
 * copy-on-write, and the agent then takes a fault on each page it writes again. Measured on this
 * project's 2-core VM: 5-12 ms of the agent's thread per spawn, and 10-15 ms more of faults after
 * it; posix_spawn from Python on the same machine takes 0.6 ms.
 *
 * spawn(file, args, env, path, cwd) -> [pid, stdinFd, stdoutFd, stderrFd]
 *   file is looked up in `path` (a PATH value: the child's environment's, as libuv does) unless it
 *   names a slash (see resolve); env is the child's whole environment as "NAME=value" strings. The three fds are
 *   this process's ends of three pipes (close-on-exec), the child's ends being its 0, 1 and 2. The
 *   child starts with every signal at its default action and none blocked (as libuv's children:
 *   Node ignores SIGPIPE, and an ignored signal stays ignored across exec). Throws an Error whose
 *   code is the errno name (ENOENT for a file not found on the path) when nothing was started.
 * reap(pid) -> undefined while the child runs; [code, signal] once it has exited and is reaped
 *   (code -1 when a signal ended it, signal 0 when it exited); [-1, 0] for a pid that is not an
 *   unreaped child of this process. Never blocks (WNOHANG): the caller asks on SIGCHLD.
 */
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Longest PATH candidate (directory, slash, file) tried. */
#define CANDIDATE_MAX 4096

/* native/icmp_probe.c: throws "seaway addon: <call> failed: <reason>" unless an exception is pending. */
void seaway_throw_napi_failure(napi_env env, const char *call);

#define CALL(env, call, failed)              \
  do {                                       \
    if ((call) != napi_ok) {                 \
      seaway_throw_napi_failure((env), #call); \
      goto failed;                           \
    }                                        \
  } while (0)

/* Throws an Error "spawn <file> <CODE>" with .code (the errno's name), .errno and .syscall, as Node's spawn errors. */
static void throw_errno(napi_env env, const char *file, int error) {
  const char *name = strerrorname_np(error);
  char message[CANDIDATE_MAX + 64];
  snprintf(message, sizeof message, "spawn %s %s", file, name != NULL ? name : strerror(error));
  napi_value text, code, err, number, syscall;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) != napi_ok) return;
  if (napi_create_string_utf8(env, name != NULL ? name : "UNKNOWN", NAPI_AUTO_LENGTH, &code) != napi_ok) return;
  if (napi_create_error(env, code, text, &err) != napi_ok) return;
  if (napi_create_int32(env, -error, &number) == napi_ok) napi_set_named_property(env, err, "errno", number);
  if (napi_create_string_utf8(env, "spawn", NAPI_AUTO_LENGTH, &syscall) == napi_ok) napi_set_named_property(env, err, "syscall", syscall);
  napi_set_named_property(env, err, "code", code);
  napi_throw(env, err);
}

/* A JS string as a malloc'd C string (NULL, with an exception pending, when it is not a string). */
static char *string_arg(napi_env env, napi_value value) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    seaway_throw_napi_failure(env, "napi_get_value_string_utf8");
    return NULL;
  }
  char *text = malloc(length + 1);
  if (text == NULL) {
    napi_throw_error(env, "ENOMEM", "seaway spawn: out of memory");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, value, text, length + 1, &length) != napi_ok) {
    free(text);
    seaway_throw_napi_failure(env, "napi_get_value_string_utf8");
    return NULL;
  }
  return text;
}

static void free_vector(char **vector) {
  if (vector == NULL) return;
  for (char **p = vector; *p != NULL; p++) free(*p);
  free(vector);
}

/* A JS array of strings as a NULL-terminated, malloc'd vector, `first` (if any) put in front. */
static char **vector_arg(napi_env env, napi_value array, const char *first) {
  uint32_t count = 0;
  if (napi_get_array_length(env, array, &count) != napi_ok) {
    seaway_throw_napi_failure(env, "napi_get_array_length");
    return NULL;
  }
  size_t offset = first != NULL ? 1 : 0;
  char **vector = calloc(count + offset + 1, sizeof *vector);
  if (vector == NULL) {
    napi_throw_error(env, "ENOMEM", "seaway spawn: out of memory");
    return NULL;
  }
  if (first != NULL && (vector[0] = strdup(first)) == NULL) {
    free(vector);
    napi_throw_error(env, "ENOMEM", "seaway spawn: out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    if (napi_get_element(env, array, i, &item) != napi_ok) {
      seaway_throw_napi_failure(env, "napi_get_element");
      free_vector(vector);
      return NULL;
    }
    if ((vector[i + offset] = string_arg(env, item)) == NULL) {
      free_vector(vector);
      return NULL;
    }
  }
  return vector;
}

/* 0 when `candidate` is a file this process may execute; else ENOENT, or EACCES for one that is there but may not be (a directory counts as absent). */
static int executable(const char *candidate) {
  struct stat info;
  if (stat(candidate, &info) != 0 || S_ISDIR(info.st_mode)) return ENOENT;
  return access(candidate, X_OK) == 0 ? 0 : EACCES;
}

/*
 * The file to execute, as libuv finds it: `file` itself when it names a slash (relative to `cwd`
 * once the child is there), else the first executable `directory/file` along `path` (the default
 * path when there is none; an empty entry is the working directory). A relative entry is taken
 * from `cwd`, where the child will be. 0; or ENOENT, or EACCES when only files that may not be
 * executed were found (as execvp). A file without `#!` is not handed to /bin/sh (ENOEXEC).
 */
static int resolve(const char *file, const char *path, const char *cwd, char *resolved) {
  if (strchr(file, '/') != NULL) {
    if (strlen(file) >= CANDIDATE_MAX) return ENAMETOOLONG;
    strcpy(resolved, file);
    return 0;
  }
  if (*file == '\0') return ENOENT;
  int found = ENOENT;
  for (const char *entry = path != NULL ? path : _PATH_DEFPATH;; ) {
    const char *end = strchrnul(entry, ':');
    int length = (int)(end - entry);
    const char *base = cwd != NULL && (length == 0 || *entry != '/') ? cwd : NULL;
    int written = base == NULL
      ? snprintf(resolved, CANDIDATE_MAX, "%.*s%s%s", length, entry, length == 0 ? "" : "/", file)
      : snprintf(resolved, CANDIDATE_MAX, "%s/%.*s%s%s", base, length, entry, length == 0 ? "" : "/", file);
    if (written > 0 && written < CANDIDATE_MAX) {
      int verdict = executable(resolved);
      if (verdict == 0) return 0;
      if (verdict == EACCES) found = EACCES;
    }
    if (*end == '\0') return found;
    entry = end + 1;
  }
}

static void close_all(int *fds, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
}

/* Starts the child; 0 and its pid, or an errno with nothing left open. pipes: [in r, in w, out r, out w, err r, err w]. */
static int start(const char *resolved, char **argv, char **envp, const char *cwd, int *pipes, pid_t *pid) {
  for (int i = 0; i < 3; i++) {
    if (pipe2(pipes + 2 * i, O_CLOEXEC) != 0) {
      int error = errno;
      close_all(pipes, 6);
      return error;
    }
  }
  /* The child's ends go to 0, 1 and 2; dup2 onto the same number would keep close-on-exec. Node
     keeps 0, 1 and 2 open (it opens /dev/null for any that are closed), so no pipe end is one of them. */
  if (pipes[0] <= 2 || pipes[3] <= 2 || pipes[5] <= 2) {
    close_all(pipes, 6);
    return EBADF;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  int error = posix_spawn_file_actions_init(&actions);
  if (error != 0) {
    close_all(pipes, 6);
    return error;
  }
  error = posix_spawnattr_init(&attributes);
  if (error != 0) {
    posix_spawn_file_actions_destroy(&actions);
    close_all(pipes, 6);
    return error;
  }
  sigset_t none, every;
  sigemptyset(&none);
  sigfillset(&every);
  if (error == 0) error = posix_spawn_file_actions_adddup2(&actions, pipes[0], 0);
  if (error == 0) error = posix_spawn_file_actions_adddup2(&actions, pipes[3], 1);
  if (error == 0) error = posix_spawn_file_actions_adddup2(&actions, pipes[5], 2);
  if (error == 0 && cwd != NULL) error = posix_spawn_file_actions_addchdir_np(&actions, cwd);
  if (error == 0) error = posix_spawnattr_setsigmask(&attributes, &none);
  if (error == 0) error = posix_spawnattr_setsigdefault(&attributes, &every);
  if (error == 0) error = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (error == 0) error = posix_spawn(pid, resolved, &actions, &attributes, argv, envp);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  /* The child's ends are its own now (or, on failure, nobody's). */
  int theirs[3] = { pipes[0], pipes[3], pipes[5] };
  close_all(theirs, 3);
  pipes[0] = pipes[3] = pipes[5] = -1;
  if (error != 0) close_all(pipes, 6);
  return error;
}

static napi_value spawn_child(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_value result = NULL;
  char *file = NULL, *path = NULL, *cwd = NULL;
  char **args = NULL, **envp = NULL;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), done);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "spawn(file, args, env, path, cwd): five arguments");
    goto done;
  }
  napi_valuetype type;
  if ((file = string_arg(env, argv[0])) == NULL) goto done;
  if ((args = vector_arg(env, argv[1], file)) == NULL) goto done;
  if ((envp = vector_arg(env, argv[2], NULL)) == NULL) goto done;
  CALL(env, napi_typeof(env, argv[3], &type), done);
  if (type != napi_null && (path = string_arg(env, argv[3])) == NULL) goto done;
  CALL(env, napi_typeof(env, argv[4], &type), done);
  if (type != napi_null && (cwd = string_arg(env, argv[4])) == NULL) goto done;

  char resolved[CANDIDATE_MAX];
  int error = resolve(file, path, cwd, resolved);
  int pipes[6] = { -1, -1, -1, -1, -1, -1 };
  pid_t pid = 0;
  if (error == 0) error = start(resolved, args, envp, cwd, pipes, &pid);
  if (error != 0) {
    throw_errno(env, file, error);
    goto done;
  }
  int values[4] = { pid, pipes[1], pipes[2], pipes[4] };
  napi_value array, number;
  if (napi_create_array_with_length(env, 4, &array) != napi_ok) goto unreturned;
  for (uint32_t i = 0; i < 4; i++) {
    if (napi_create_int32(env, values[i], &number) != napi_ok || napi_set_element(env, array, i, number) != napi_ok) goto unreturned;
  }
  result = array;
  goto done;
unreturned:
  /* The child runs but nobody can hear it: end it rather than leave it holding pipes nobody reads. */
  seaway_throw_napi_failure(env, "returning the spawned child");
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  close_all(pipes, 6);
done:
  free(file);
  free(path);
  free(cwd);
  free_vector(args);
  free_vector(envp);
  return result;
}

static napi_value reap_child(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t pid = 0;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), failed);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "reap(pid): a positive pid");
    return NULL;
  }
  int status = 0;
  pid_t answered;
  do answered = waitpid(pid, &status, WNOHANG);
  while (answered < 0 && errno == EINTR);
  if (answered == 0) return NULL; /* undefined: still running */
  int code = -1, signal_number = 0;
  if (answered == pid) {
    if (WIFEXITED(status)) code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) signal_number = WTERMSIG(status);
  }
  napi_value array, value;
  CALL(env, napi_create_array_with_length(env, 2, &array), failed);
  CALL(env, napi_create_int32(env, code, &value), failed);
  CALL(env, napi_set_element(env, array, 0, value), failed);
  CALL(env, napi_create_int32(env, signal_number, &value), failed);
  CALL(env, napi_set_element(env, array, 1, value), failed);
  return array;
failed:
  return NULL;
}

/* Adds spawn and reap to the addon's exports (called from the module's init in icmp_probe.c). */
bool seaway_define_spawn(napi_env env, napi_value exports) {
  napi_value spawn_fn, reap_fn;
  CALL(env, napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, spawn_child, NULL, &spawn_fn), failed);
  CALL(env, napi_set_named_property(env, exports, "spawn", spawn_fn), failed);
  CALL(env, napi_create_function(env, "reap", NAPI_AUTO_LENGTH, reap_child, NULL, &reap_fn), failed);
  CALL(env, napi_set_named_property(env, exports, "reap", reap_fn), failed);
  return true;
failed:
  return false;
}
