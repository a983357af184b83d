/**
 * What can go wrong talking VICI to charon. None of these messages carries message contents:
 * requests hold pre-shared keys, so only command and event names (and byte offsets) are named.
 */

/** The peer sent bytes that are not VICI: the connection cannot be trusted past this point. */
export class ViciProtocolError extends Error {
  /** What was wrong, without the offset. */
  readonly problem: string;
  /** Where the problem was found: in the bytes given to the decoder, or in the stream for PacketReader. */
  readonly offset: number;
  /** Says what the offset counts from, when not the start of the decoded bytes. */
  constructor(problem: string, offset: number, of = '') {
    super(`vici protocol error: ${problem} at offset ${offset}${of}`);
    this.name = 'ViciProtocolError';
    this.problem = problem;
    this.offset = offset;
  }
}

/** A message or packet that cannot be put on the wire as given (nothing was sent). */
export class ViciEncodeError extends Error {
  constructor(message: string) {
    super(`vici: cannot encode ${message}`);
    this.name = 'ViciEncodeError';
  }
}

/** charon answered CMD_UNKNOWN: it has no command of that name (or its plugin is not loaded). */
export class ViciUnknownCommandError extends Error {
  readonly command: string;
  constructor(command: string) {
    super(`vici: unknown command "${command}"`);
    this.name = 'ViciUnknownCommandError';
    this.command = command;
  }
}

/** charon answered EVENT_UNKNOWN to a registration: it has no event of that name. */
export class ViciUnknownEventError extends Error {
  readonly event: string;
  constructor(event: string) {
    super(`vici: unknown event "${event}"`);
    this.name = 'ViciUnknownEventError';
    this.event = event;
  }
}

/**
 * No answer within the deadline. If the request was already sent the connection was destroyed:
 * VICI has no sequence numbers, so a late answer would otherwise be taken for the next command's.
 */
export class ViciTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number) {
    super(message);
    this.name = 'ViciTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** The connection could not be opened, was lost, or the client was closed. */
export class ViciConnectionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ViciConnectionError';
  }
}

/** A command that answers {success, errmsg} said no. */
export class ViciCommandError extends Error {
  readonly command: string;
  /** charon's errmsg, when it gave one. */
  readonly errmsg: string | undefined;
  constructor(command: string, errmsg: string | undefined) {
    super(`vici command "${command}" failed: ${errmsg ?? 'no error message given'}`);
    this.name = 'ViciCommandError';
    this.command = command;
    this.errmsg = errmsg;
  }
}
