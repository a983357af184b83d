/*
 * seaway_icmp: ICMP echo for tunnel health checks and RTT, many probes on one socket, no shell-out.
 *
 * One raw IPv4 ICMP socket (SOCK_RAW, IPPROTO_ICMP: needs CAP_NET_RAW, which the agent holds) serves
 * any number of targets: the caller picks id and seq per probe, and every echo request carries
 *   magic "swy1" (4 bytes) | socket token (8 random bytes) | send time in ns (8 bytes, big-endian)
 * so a reply is matched from its own bytes, with no table of outstanding probes in C. A raw socket
 * sees every echo reply that reaches the namespace (ping's, another seaway socket's): the magic
 * and the per-socket token keep those out, ICMP_FILTER keeps every other ICMP type out in the
 * kernel, and the checksum is verified here because raw sockets get packets before icmp_rcv does.
 *
 * Clocks: the receive time is the kernel's (SO_TIMESTAMPNS, stamped when the packet reached the
 * socket layer, so a busy event loop does not inflate the RTT) and SO_TIMESTAMPNS only speaks
 * CLOCK_REALTIME; the send time is therefore CLOCK_REALTIME too, read right before sendto. A send
 * timestamp from the kernel (SO_TIMESTAMPING with TX_SOFTWARE) would be a few microseconds closer
 * to the wire but costs an error-queue read and an OPT_ID match per probe; the gap it removes is
 * small next to any tunnel's RTT. The price of the realtime clock: a clock step between send and
 * receive makes one sample wrong (negative when stepped back); rttNs says so and the statistics
 * (src/model/rtt-stats.ts) refuse non-positive samples.
 *
 * Event loop: uv_poll_t on the fd of the loop the socket was opened on; when readable, replies are
 * drained with recvmmsg until the queue is empty (at most MAX_PACKETS_PER_WAKEUP per wake-up, so a
 * flood cannot starve the loop; the poll is level-triggered and comes back) and handed to the JS
 * callback as one batch. close() stops the poll and closes the fd at once; a finalizer does the
 * same if JS drops the object while open, and an env cleanup hook when Node tears down.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define ECHO_MAGIC "swy1"
#define MAGIC_LEN 4
#define TOKEN_LEN 8
#define ICMP_HEADER_LEN 8
#define PAYLOAD_LEN (MAGIC_LEN + TOKEN_LEN + 8)
#define ECHO_LEN (ICMP_HEADER_LEN + PAYLOAD_LEN)
/* An IPv4 header with options (60) plus our echo fits; anything truncated at this size is not ours. */
#define RECV_BUF_LEN 256
#define RECV_BATCH 64
#define MAX_PACKETS_PER_WAKEUP 4096
/* Room for about 1300 queued replies (truesize ~768 B each): a burst of hundreds of probes must not
 * overflow the default 208 KiB between two loop turns. SO_RCVBUFFORCE passes net.core.rmem_max. */
#define RCVBUF_BYTES (1 << 20)
#define ADDRESS_ARG_MAX 64

static const napi_type_tag PROBE_SOCKET_TAG = { 0x7365617761792d69ULL, 0x636d702d736f636bULL };

typedef struct probe_socket {
  napi_env env;
  int fd;
  uv_poll_t *poll;           /* NULL once closed; freed by libuv's close callback */
  napi_ref on_replies;
  napi_ref on_error;         /* NULL: errors go to process 'uncaughtException' */
  napi_async_context async;
  uint8_t token[TOKEN_LEN];
  bool closed;
  bool cleanup_hook;         /* an env cleanup hook is registered for this socket */
  bool in_callback;          /* inside on_readable: the finalizer must not free yet */
  bool finalized;            /* the JS object is gone: free when on_readable returns */
} probe_socket;

typedef struct echo_reply {
  struct in_addr src;
  struct in_addr dst;
  uint16_t id;
  uint16_t seq;
  uint8_t ttl;
  uint64_t sent_ns;
  uint64_t received_ns;
} echo_reply;

/* ---- errors ---------------------------------------------------------------------------------- */

static const char *errno_code(int err, char *buf, size_t len) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(err);
  if (name != NULL) return name;
#endif
  snprintf(buf, len, "ERRNO_%d", err);
  return buf;
}

/* An Error shaped like Node's system errors: "sendto(10.0.0.1): Network is unreachable",
 * code "ENETUNREACH", errno (negative, as libuv reports it), syscall. */
static napi_value errno_error(napi_env env, const char *syscall, const char *detail, int err) {
  char message[320];
  char code_buf[24];
  snprintf(message, sizeof message, "%s(%s): %s", syscall, detail != NULL ? detail : "", strerror(err));
  napi_value code, text, error, value;
  if (napi_create_string_utf8(env, errno_code(err, code_buf, sizeof code_buf), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok) {
    return NULL;
  }
  if (napi_create_int32(env, -err, &value) == napi_ok) napi_set_named_property(env, error, "errno", value);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value) == napi_ok) napi_set_named_property(env, error, "syscall", value);
  return error;
}

static void throw_errno(napi_env env, const char *syscall, const char *detail, int err) {
  napi_value error = errno_error(env, syscall, detail, err);
  if (error != NULL) napi_throw(env, error);
  else napi_throw_error(env, NULL, strerror(err));
}

/* A Node-API call failed: throw its own message unless a JS exception is already pending. */
/* Throws "seaway addon: <call> failed: <reason>" unless an exception is pending already (native/posix_spawn.c uses it too). */
void seaway_throw_napi_failure(napi_env env, const char *call) {
  const napi_extended_error_info *info = NULL;
  char message[256];
  napi_get_last_error_info(env, &info);
  snprintf(message, sizeof message, "seaway addon: %s failed: %s", call,
           info != NULL && info->error_message != NULL ? info->error_message : "unknown error");
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, message);
}

#define NAPI_CALL(env, call)                 \
  do {                                       \
    if ((call) != napi_ok) {                 \
      seaway_throw_napi_failure((env), #call); \
      return NULL;                           \
    }                                        \
  } while (0)

/* ---- packet helpers -------------------------------------------------------------------------- */

static uint16_t inet_checksum(const uint8_t *data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)data[i] << 8 | data[i + 1];
  if (len & 1) sum += (uint32_t)data[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static void write_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static uint16_t read_be16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

static void write_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static uint64_t read_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The kernel's receive time of one message, or the time now when it carries none (SO_TIMESTAMPNS
 * is set on every socket, so that only happens if the control buffer was truncated). */
static uint64_t receive_time_ns(struct msghdr *msg) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof ts);
      return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
  }
  return realtime_ns();
}

/* One received IPv4 datagram -> an echo reply of this socket, or false (someone else's, or junk). */
static bool parse_reply(const probe_socket *p, const uint8_t *pkt, size_t len, int flags, echo_reply *out) {
  if (flags & MSG_TRUNC) return false;
  if (len < 20 || pkt[0] >> 4 != 4) return false;
  size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
  size_t total = read_be16(pkt + 2);
  if (ihl < 20 || total > len || total < ihl + ECHO_LEN) return false;
  const uint8_t *icmp = pkt + ihl;
  size_t icmp_len = total - ihl;
  if (icmp[0] != ICMP_ECHOREPLY || icmp[1] != 0) return false;
  if (inet_checksum(icmp, icmp_len) != 0) return false;
  const uint8_t *payload = icmp + ICMP_HEADER_LEN;
  if (memcmp(payload, ECHO_MAGIC, MAGIC_LEN) != 0) return false;
  if (memcmp(payload + MAGIC_LEN, p->token, TOKEN_LEN) != 0) return false;
  memcpy(&out->src, pkt + 12, sizeof out->src);
  memcpy(&out->dst, pkt + 16, sizeof out->dst);
  out->ttl = pkt[8];
  out->id = read_be16(icmp + 4);
  out->seq = read_be16(icmp + 6);
  out->sent_ns = read_be64(payload + MAGIC_LEN + TOKEN_LEN);
  return true;
}

/* ---- calling JS from the loop ---------------------------------------------------------------- */

/* Calls fn(arg) as an async callback of this socket; a throw goes to 'uncaughtException', as a
 * throw from any other event handler does. */
static void call_js(probe_socket *p, napi_ref fn_ref, napi_value arg) {
  napi_env env = p->env;
  napi_value fn, global, result;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  if (napi_get_global(env, &global) != napi_ok) return;
  napi_make_callback(env, p->async, global, fn, 1, &arg, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

static void report_error(probe_socket *p, napi_value error) {
  if (error == NULL) return;
  if (p->on_error != NULL) call_js(p, p->on_error, error);
  else napi_fatal_exception(p->env, error);
}

static bool set_property(napi_env env, napi_value obj, const char *name, napi_value value) {
  return value != NULL && napi_set_named_property(env, obj, name, value) == napi_ok;
}

static napi_value reply_object(napi_env env, const echo_reply *r) {
  char src_text[INET_ADDRSTRLEN], dst_text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &r->src, src_text, sizeof src_text);
  inet_ntop(AF_INET, &r->dst, dst_text, sizeof dst_text);
  napi_value obj, src, dst, id, seq, ttl, sent, received, rtt;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_string_utf8(env, src_text, NAPI_AUTO_LENGTH, &src) != napi_ok ||
      napi_create_string_utf8(env, dst_text, NAPI_AUTO_LENGTH, &dst) != napi_ok ||
      napi_create_uint32(env, r->id, &id) != napi_ok ||
      napi_create_uint32(env, r->seq, &seq) != napi_ok ||
      napi_create_uint32(env, r->ttl, &ttl) != napi_ok ||
      napi_create_bigint_uint64(env, r->sent_ns, &sent) != napi_ok ||
      napi_create_bigint_uint64(env, r->received_ns, &received) != napi_ok ||
      /* signed: negative when the realtime clock stepped back between send and receive */
      napi_create_double(env, (double)(int64_t)(r->received_ns - r->sent_ns), &rtt) != napi_ok) {
    return NULL;
  }
  if (!set_property(env, obj, "src", src) || !set_property(env, obj, "dst", dst) || !set_property(env, obj, "id", id) || !set_property(env, obj, "seq", seq) ||
      !set_property(env, obj, "ttl", ttl) || !set_property(env, obj, "sentNs", sent) ||
      !set_property(env, obj, "receivedNs", received) || !set_property(env, obj, "rttNs", rtt)) {
    return NULL;
  }
  return obj;
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

static void free_poll(uv_handle_t *handle) {
  free(handle);
}

static void cleanup_hook(void *arg);

/* Stops the poll and closes the fd. uv_poll_stop takes the fd out of epoll at once, so closing it
 * right after is safe; the uv handle's memory goes in libuv's close callback. */
static void stop_io(probe_socket *p) {
  p->closed = true;
  if (p->poll != NULL) {
    uv_poll_stop(p->poll);
    uv_close((uv_handle_t *)p->poll, free_poll);
    p->poll = NULL;
  }
  if (p->fd >= 0) {
    close(p->fd);
    p->fd = -1;
  }
}

/* Drops the callbacks (their closures may hold the socket's JS object, which can then be
 * collected), the async context and the cleanup hook. */
static void release_js(probe_socket *p) {
  if (p->on_replies != NULL) napi_delete_reference(p->env, p->on_replies);
  if (p->on_error != NULL) napi_delete_reference(p->env, p->on_error);
  p->on_replies = p->on_error = NULL;
  if (p->async != NULL) napi_async_destroy(p->env, p->async);
  p->async = NULL;
  if (p->cleanup_hook) {
    p->cleanup_hook = false;
    napi_remove_env_cleanup_hook(p->env, cleanup_hook, p);
  }
}

/* Idempotent; the struct itself stays until the finalizer. */
static void probe_close(probe_socket *p) {
  stop_io(p);
  release_js(p);
}

static void cleanup_hook(void *arg) {
  probe_socket *p = arg;
  p->cleanup_hook = false; /* being run: not to be removed from inside itself */
  probe_close(p);
}

static void probe_finalize(napi_env env, void *data, void *hint) {
  probe_socket *p = data;
  probe_close(p);
  if (p->in_callback) p->finalized = true;
  else free(p);
}

/* ---- receiving ------------------------------------------------------------------------------- */

static void drain(probe_socket *p) {
  napi_env env = p->env;
  napi_value batch;
  uint32_t count = 0;
  int error = 0;
  if (napi_create_array(env, &batch) != napi_ok) return;

  struct mmsghdr msgs[RECV_BATCH];
  struct iovec iov[RECV_BATCH];
  struct sockaddr_in from[RECV_BATCH];
  uint8_t bufs[RECV_BATCH][RECV_BUF_LEN];
  union {
    char buf[CMSG_SPACE(sizeof(struct timespec))];
    struct cmsghdr align;
  } control[RECV_BATCH];

  for (size_t seen = 0; seen < MAX_PACKETS_PER_WAKEUP;) {
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < RECV_BATCH; i++) {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = sizeof bufs[i];
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = control[i].buf;
      msgs[i].msg_hdr.msg_controllen = sizeof control[i].buf;
    }
    int n = recvmmsg(p->fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
      break;
    }
    seen += (size_t)n;
    for (int i = 0; i < n; i++) {
      echo_reply reply;
      if (!parse_reply(p, bufs[i], msgs[i].msg_len, msgs[i].msg_hdr.msg_flags, &reply)) continue;
      reply.received_ns = receive_time_ns(&msgs[i].msg_hdr);
      napi_value obj = reply_object(env, &reply);
      if (obj != NULL && napi_set_element(env, batch, count, obj) == napi_ok) count++;
    }
    if (n < RECV_BATCH) break; /* the queue is empty: the next call would say EAGAIN */
  }

  if (count > 0) call_js(p, p->on_replies, batch);
  /* The callback may have closed the socket: then the error belongs to nobody. */
  if (error != 0 && !p->closed) report_error(p, errno_error(env, "recvmmsg", NULL, error));
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  probe_socket *p = handle->data;
  if (p->closed) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(p->env, &scope) != napi_ok) return;
  p->in_callback = true;
  if (status < 0) {
    /* The poll itself failed (the fd went bad): nothing will arrive any more. Close, then say so,
     * so the owner sees a closed socket and opens a new one. */
    napi_value error = errno_error(p->env, "poll", NULL, -status);
    stop_io(p);
    report_error(p, error);
    release_js(p);
  } else {
    drain(p);
  }
  p->in_callback = false;
  napi_close_handle_scope(p->env, scope);
  if (p->finalized) free(p);
}

/* ---- the IcmpSocket class -------------------------------------------------------------------- */

static probe_socket *unwrap_socket(napi_env env, napi_value self) {
  bool tagged = false;
  if (self == NULL || napi_check_object_type_tag(env, self, &PROBE_SOCKET_TAG, &tagged) != napi_ok || !tagged) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "Illegal invocation: not an IcmpSocket");
    return NULL;
  }
  void *data = NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "Illegal invocation: not an IcmpSocket");
    return NULL;
  }
  return data;
}

/* options[name], or NULL when absent or undefined (a thrown getter leaves an exception pending). */
static bool get_option(napi_env env, napi_value options, const char *name, napi_value *value, napi_valuetype *type) {
  if (napi_get_named_property(env, options, name, value) != napi_ok) return false;
  if (napi_typeof(env, *value, type) != napi_ok) return false;
  if (*type == napi_undefined) *value = NULL;
  return true;
}

/* An IPv4 address from a JS string; throws a TypeError naming `what` otherwise. */
static bool get_ipv4(napi_env env, napi_value value, const char *what, struct in_addr *addr, char *text, size_t text_len) {
  napi_valuetype type;
  size_t len = 0;
  char message[160];
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type != napi_string) {
    snprintf(message, sizeof message, "%s must be an IPv4 address string", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  if (napi_get_value_string_utf8(env, value, text, text_len, &len) != napi_ok) return false;
  if (len + 1 >= text_len || inet_pton(AF_INET, text, addr) != 1) {
    snprintf(message, sizeof message, "%s must be an IPv4 address, got \"%.*s\"", what, (int)(text_len - 1), text);
    napi_throw_type_error(env, "ERR_INVALID_IP_ADDRESS", message);
    return false;
  }
  return true;
}

/* An integer in [0, max] from a JS number; throws naming `what` otherwise. */
static bool get_uint(napi_env env, napi_value value, const char *what, double max, uint32_t *out) {
  napi_valuetype type;
  double number;
  char message[160];
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type != napi_number) {
    snprintf(message, sizeof message, "%s must be a number", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  if (napi_get_value_double(env, value, &number) != napi_ok) return false;
  if (!(number >= 0 && number <= max) || number != (double)(uint32_t)number) {
    snprintf(message, sizeof message, "%s must be an integer from 0 to %.0f, got %g", what, max, number);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return false;
  }
  *out = (uint32_t)number;
  return true;
}

/* new IcmpSocket({ source?, mark?, onReplies(batch), onError?(error) }) */
static napi_value socket_new(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self, new_target;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  NAPI_CALL(env, napi_get_new_target(env, info, &new_target));
  if (new_target == NULL) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED", "IcmpSocket must be called with new");
    return NULL;
  }
  napi_valuetype type = napi_undefined;
  if (argc >= 1) NAPI_CALL(env, napi_typeof(env, argv[0], &type));
  if (type != napi_object) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "IcmpSocket: options must be an object");
    return NULL;
  }
  napi_value options = argv[0];

  napi_value on_replies, on_error, source, mark;
  napi_valuetype on_replies_type, on_error_type, source_type, mark_type;
  if (!get_option(env, options, "onReplies", &on_replies, &on_replies_type) ||
      !get_option(env, options, "onError", &on_error, &on_error_type) ||
      !get_option(env, options, "source", &source, &source_type) ||
      !get_option(env, options, "mark", &mark, &mark_type)) {
    seaway_throw_napi_failure(env, "reading the options");
    return NULL;
  }
  if (on_replies_type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "IcmpSocket: options.onReplies must be a function");
    return NULL;
  }
  if (on_error != NULL && on_error_type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "IcmpSocket: options.onError must be a function");
    return NULL;
  }
  struct in_addr source_addr;
  char source_text[ADDRESS_ARG_MAX] = "";
  if (source != NULL && !get_ipv4(env, source, "IcmpSocket: options.source", &source_addr, source_text, sizeof source_text)) return NULL;
  uint32_t mark_value = 0;
  if (mark != NULL && !get_uint(env, mark, "IcmpSocket: options.mark", 4294967295.0, &mark_value)) return NULL;

  /* The socket, set up completely before anything else owns it. */
  int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) {
    throw_errno(env, "socket", NULL, errno);
    return NULL;
  }
  struct icmp_filter filter = { .data = ~(uint32_t)(1u << ICMP_ECHOREPLY) };
  int on = 1, rcvbuf = RCVBUF_BYTES;
  const char *failed = NULL;
  if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter) != 0) failed = "ICMP_FILTER";
  else if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) failed = "SO_TIMESTAMPNS";
  else if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0 &&
           setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) failed = "SO_RCVBUF";
  else if (mark != NULL && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark_value, sizeof mark_value) != 0) failed = "SO_MARK";
  if (failed != NULL) {
    int err = errno;
    close(fd);
    throw_errno(env, "setsockopt", failed, err);
    return NULL;
  }
  if (source != NULL) {
    /* The source of every probe, and the only destination this socket receives for: the gateway
     * probes from its CNI address so the probe is routed through the tunnel. */
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = source_addr };
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
      int err = errno;
      close(fd);
      throw_errno(env, "bind", source_text, err);
      return NULL;
    }
  }

  probe_socket *p = calloc(1, sizeof *p);
  uv_poll_t *poll = malloc(sizeof *poll);
  if (p == NULL || poll == NULL) {
    free(p);
    free(poll);
    close(fd);
    napi_throw_error(env, "ENOMEM", "IcmpSocket: out of memory");
    return NULL;
  }
  p->env = env;
  p->fd = fd;
  if (getrandom(p->token, sizeof p->token, 0) != (ssize_t)sizeof p->token) {
    int err = errno;
    free(p);
    free(poll);
    close(fd);
    throw_errno(env, "getrandom", NULL, err);
    return NULL;
  }

  struct uv_loop_s *loop = NULL;
  int uv_err = napi_get_uv_event_loop(env, &loop) == napi_ok ? uv_poll_init(loop, poll, fd) : UV_EINVAL;
  if (uv_err != 0) {
    free(p);
    free(poll);
    close(fd);
    throw_errno(env, "uv_poll_init", NULL, -uv_err);
    return NULL;
  }
  poll->data = p;
  p->poll = poll; /* from here on, probe_close releases everything */

  napi_value resource_name;
  if ((uv_err = uv_poll_start(poll, UV_READABLE, on_readable)) != 0) {
    probe_close(p);
    free(p);
    throw_errno(env, "uv_poll_start", NULL, -uv_err);
    return NULL;
  }
  if (napi_create_reference(env, on_replies, 1, &p->on_replies) != napi_ok ||
      (on_error != NULL && napi_create_reference(env, on_error, 1, &p->on_error) != napi_ok) ||
      napi_create_string_utf8(env, "SeawayIcmpSocket", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &p->async) != napi_ok ||
      napi_type_tag_object(env, self, &PROBE_SOCKET_TAG) != napi_ok ||
      napi_wrap(env, self, p, probe_finalize, NULL, NULL) != napi_ok) {
    seaway_throw_napi_failure(env, "IcmpSocket set-up");
    probe_close(p);
    free(p);
    return NULL;
  }
  /* From here the JS object owns p: the finalizer frees it. */
  if (napi_add_env_cleanup_hook(env, cleanup_hook, p) == napi_ok) p->cleanup_hook = true;
  return self;
}

/* send(dst, id, seq) -> the send time (bigint ns, CLOCK_REALTIME) that the reply will carry back */
static napi_value socket_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  probe_socket *p = unwrap_socket(env, self);
  if (p == NULL) return NULL;
  if (p->closed) {
    napi_throw_error(env, "ERR_SOCKET_CLOSED", "send(): the ICMP socket is closed");
    return NULL;
  }
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "send(dst, id, seq) needs three arguments");
    return NULL;
  }
  struct in_addr dst;
  char dst_text[ADDRESS_ARG_MAX];
  uint32_t id, seq;
  if (!get_ipv4(env, argv[0], "send(): dst", &dst, dst_text, sizeof dst_text) ||
      !get_uint(env, argv[1], "send(): id", 65535, &id) ||
      !get_uint(env, argv[2], "send(): seq", 65535, &seq)) {
    return NULL;
  }

  uint8_t packet[ECHO_LEN] = { ICMP_ECHO, 0 };
  write_be16(packet + 4, (uint16_t)id);
  write_be16(packet + 6, (uint16_t)seq);
  memcpy(packet + ICMP_HEADER_LEN, ECHO_MAGIC, MAGIC_LEN);
  memcpy(packet + ICMP_HEADER_LEN + MAGIC_LEN, p->token, TOKEN_LEN);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = dst };
  uint64_t sent_ns = realtime_ns();
  write_be64(packet + ICMP_HEADER_LEN + MAGIC_LEN + TOKEN_LEN, sent_ns);
  write_be16(packet + 2, inet_checksum(packet, sizeof packet));
  ssize_t n;
  do n = sendto(p->fd, packet, sizeof packet, 0, (struct sockaddr *)&sa, sizeof sa);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    throw_errno(env, "sendto", dst_text, errno);
    return NULL;
  }
  if (n != (ssize_t)sizeof packet) {
    napi_throw_error(env, "ERR_SHORT_WRITE", "sendto(): short write");
    return NULL;
  }
  napi_value result;
  NAPI_CALL(env, napi_create_bigint_uint64(env, sent_ns, &result));
  return result;
}

static napi_value socket_close(napi_env env, napi_callback_info info) {
  napi_value self;
  NAPI_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  probe_socket *p = unwrap_socket(env, self);
  if (p == NULL) return NULL;
  probe_close(p);
  return NULL;
}

static napi_value socket_closed(napi_env env, napi_callback_info info) {
  napi_value self, result;
  NAPI_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  probe_socket *p = unwrap_socket(env, self);
  if (p == NULL) return NULL;
  NAPI_CALL(env, napi_get_boolean(env, p->closed, &result));
  return result;
}

/* ref()/unref(): whether an open socket keeps the process alive, as for Node's own sockets. */
static napi_value set_ref(napi_env env, napi_callback_info info, bool ref) {
  napi_value self;
  NAPI_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  probe_socket *p = unwrap_socket(env, self);
  if (p == NULL) return NULL;
  if (p->poll != NULL) {
    if (ref) uv_ref((uv_handle_t *)p->poll);
    else uv_unref((uv_handle_t *)p->poll);
  }
  return self;
}

static napi_value socket_ref(napi_env env, napi_callback_info info) {
  return set_ref(env, info, true);
}

static napi_value socket_unref(napi_env env, napi_callback_info info) {
  return set_ref(env, info, false);
}

/* native/malloc_trim.c: the addon is seaway's one native module, so it carries that call too. */
napi_value seaway_malloc_trim(napi_env env, napi_callback_info info);
/* native/posix_spawn.c: spawn and reap, likewise; false with an exception pending on failure. */
bool seaway_define_spawn(napi_env env, napi_value exports);

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor methods[] = {
    { "send", NULL, socket_send, NULL, NULL, NULL, napi_default_method, NULL },
    { "close", NULL, socket_close, NULL, NULL, NULL, napi_default_method, NULL },
    { "ref", NULL, socket_ref, NULL, NULL, NULL, napi_default_method, NULL },
    { "unref", NULL, socket_unref, NULL, NULL, NULL, napi_default_method, NULL },
    { "closed", NULL, NULL, socket_closed, NULL, NULL, napi_enumerable, NULL },
  };
  napi_value cls, payload;
  NAPI_CALL(env, napi_define_class(env, "IcmpSocket", NAPI_AUTO_LENGTH, socket_new, NULL,
                                   sizeof methods / sizeof methods[0], methods, &cls));
  NAPI_CALL(env, napi_set_named_property(env, exports, "IcmpSocket", cls));
  /* Bytes of an echo request on the wire after the IP header, for anyone sizing or capturing. */
  NAPI_CALL(env, napi_create_uint32(env, ECHO_LEN, &payload));
  NAPI_CALL(env, napi_set_named_property(env, exports, "ECHO_BYTES", payload));
  napi_value trim;
  NAPI_CALL(env, napi_create_function(env, "mallocTrim", NAPI_AUTO_LENGTH, seaway_malloc_trim, NULL, &trim));
  NAPI_CALL(env, napi_set_named_property(env, exports, "mallocTrim", trim));
  if (!seaway_define_spawn(env, exports)) return NULL;
  return exports;
}
