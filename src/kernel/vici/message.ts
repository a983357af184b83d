/**
 * The VICI wire format of strongSwan's charon (src/libcharon/plugins/vici/README.md): messages
 * (sections, key-values, lists), packets (a type byte, a name for some types, a message for some),
 * and the stream framing (a 32-bit big-endian length before each packet). Pure: no I/O.
 */
import { ViciEncodeError, ViciProtocolError } from './errors.ts';

/** charon refuses longer segments (VICI_MESSAGE_SIZE_MAX); so do we, before allocating for one. */
export const VICI_MAX_SEGMENT_BYTES = 512 * 1024;
const MAX_NAME_BYTES = 255;
const MAX_VALUE_BYTES = 0xffff;
const LENGTH_BYTES = 4;

const SECTION_START = 1;
const SECTION_END = 2;
const KEY_VALUE = 3;
const LIST_START = 4;
const LIST_ITEM = 5;
const LIST_END = 6;

/** A decoded message: values are UTF-8 strings, lists of them, or sections. */
export type ViciValue = string | string[] | ViciSection;
export type ViciSection = { [key: string]: ViciValue };

/** What encoding accepts: a Buffer for binary values (secrets); undefined keys are left out. */
export type ViciInputItem = string | Buffer;
export type ViciInputValue = ViciInputItem | readonly ViciInputItem[] | ViciInputSection | undefined;
export type ViciInputSection = { readonly [key: string]: ViciInputValue };

// Indexed by the type byte.
const PACKET_TYPES = [
  'cmd-request', 'cmd-response', 'cmd-unknown', 'event-register', 'event-unregister', 'event-confirm', 'event-unknown', 'event',
] as const;
export type ViciPacketType = (typeof PACKET_TYPES)[number];
const NAMED: ReadonlySet<ViciPacketType> = new Set(['cmd-request', 'event-register', 'event-unregister', 'event']);
const WITH_MESSAGE: ReadonlySet<ViciPacketType> = new Set(['cmd-request', 'cmd-response', 'event']);

type PacketOf<M> =
  | { type: 'cmd-request' | 'event'; name: string; message: M }
  | { type: 'cmd-response'; message: M }
  | { type: 'event-register' | 'event-unregister'; name: string }
  | { type: 'cmd-unknown' | 'event-confirm' | 'event-unknown' };
export type ViciPacket = PacketOf<ViciSection>;
export type ViciPacketInput = PacketOf<ViciInputSection>;

// ---- encoding

const isPrintableAscii = (name: string) => /^[\x20-\x7e]+$/.test(name);

function encodeName(name: unknown, what: string): Buffer {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_BYTES || !isPrintableAscii(name)) {
    const shown = typeof name === 'string' ? `"${name.slice(0, 40)}"${name.length > 40 ? '...' : ''} (${Buffer.byteLength(name)} bytes)` : `a ${typeof name}`;
    throw new ViciEncodeError(`${what} ${shown}: names must be 1..${MAX_NAME_BYTES} bytes of printable ASCII`);
  }
  const bytes = Buffer.alloc(1 + name.length);
  bytes[0] = name.length;
  bytes.write(name, 1, 'ascii');
  return bytes;
}

/** A value with its 16-bit length; `where` names the key (never the value: it may be a secret). */
function encodeValue(value: unknown, where: string): Buffer[] {
  let bytes: Buffer;
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  else throw new ViciEncodeError(`${where}: a ${value === null ? 'null' : typeof value} where a string or Buffer belongs`);
  if (bytes.length > MAX_VALUE_BYTES) throw new ViciEncodeError(`${where}: a value of ${bytes.length} bytes (at most ${MAX_VALUE_BYTES})`);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return [length, bytes];
}

function encodeSection(section: ViciInputSection, path: string, parts: Buffer[], ancestors: Set<object>): void {
  if (ancestors.has(section)) throw new ViciEncodeError(`section ${path || '(top)'}: it contains itself`);
  ancestors.add(section);
  for (const [key, value] of Object.entries(section)) {
    if (value === undefined) continue;
    const where = path ? `${path}.${key}` : key;
    const name = encodeName(key, 'key');
    if (typeof value === 'string' || value instanceof Uint8Array) {
      parts.push(Buffer.of(KEY_VALUE), name, ...encodeValue(value, `key "${where}"`));
    } else if (Array.isArray(value)) {
      parts.push(Buffer.of(LIST_START), name);
      value.forEach((item: unknown, i) => parts.push(Buffer.of(LIST_ITEM), ...encodeValue(item, `list "${where}" item ${i}`)));
      parts.push(Buffer.of(LIST_END));
    } else if (typeof value === 'object' && value !== null) {
      parts.push(Buffer.of(SECTION_START), name);
      encodeSection(value as ViciInputSection, where, parts, ancestors);
      parts.push(Buffer.of(SECTION_END));
    } else {
      throw new ViciEncodeError(`key "${where}": a ${value === null ? 'null' : typeof value} (values are strings, Buffers, lists of them, or sections)`);
    }
  }
  ancestors.delete(section);
}

/** The elements of a message; throws ViciEncodeError for a bad key or value instead of truncating it. */
export function encodeMessage(section: ViciInputSection): Buffer {
  const parts: Buffer[] = [];
  encodeSection(section, '', parts, new Set());
  return Buffer.concat(parts);
}

/** A packet with its length prefix, ready to write to the socket. */
export function encodePacket(packet: ViciPacketInput): Buffer {
  const code = PACKET_TYPES.indexOf(packet.type);
  if (code < 0) throw new ViciEncodeError(`a packet of unknown type "${String(packet.type)}"`);
  const parts: Buffer[] = [Buffer.alloc(LENGTH_BYTES), Buffer.of(code)];
  if ('name' in packet) parts.push(encodeName(packet.name, `${packet.type} name`));
  if ('message' in packet) parts.push(encodeMessage(packet.message));
  const bytes = Buffer.concat(parts);
  const payload = bytes.length - LENGTH_BYTES;
  const what = 'name' in packet ? `${packet.type} "${packet.name}"` : packet.type;
  if (payload > VICI_MAX_SEGMENT_BYTES) throw new ViciEncodeError(`${what}: a packet of ${payload} bytes (at most ${VICI_MAX_SEGMENT_BYTES})`);
  bytes.writeUInt32BE(payload, 0);
  return bytes;
}

// ---- decoding

interface OpenSection { name: string; at: number; section: ViciSection }
interface OpenList { name: string; at: number; items: string[] }

/** Reads elements of bytes[start, end); offsets in errors count from the start of bytes. */
class ElementReader {
  private pos: number;
  private readonly bytes: Buffer;
  private readonly end: number;
  constructor(bytes: Buffer, start: number, end: number) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  decode(): ViciSection {
    const top: ViciSection = {};
    const stack: OpenSection[] = [{ name: '', at: -1, section: top }];
    let list: OpenList | undefined;
    while (this.pos < this.end) {
      const at = this.pos;
      const type = this.bytes[this.pos++]!;
      const current = stack[stack.length - 1]!;
      if (list && type !== LIST_ITEM && type !== LIST_END) {
        const element = type === LIST_START ? 'a nested list' : elementName(type);
        throw this.fail(`${element} inside list "${list.name}" (opened at offset ${list.at}; lists hold only items)`, at);
      }
      switch (type) {
        case SECTION_START: {
          const name = this.name('section');
          const section: ViciSection = {};
          setUnique(current, name, section, at);
          stack.push({ name, at, section });
          break;
        }
        case SECTION_END:
          if (stack.length === 1) throw this.fail('SECTION_END without an open section', at);
          stack.pop();
          break;
        case KEY_VALUE: {
          const name = this.name('key');
          setUnique(current, name, this.value(`value of key "${name}"`), at);
          break;
        }
        case LIST_START:
          list = { name: this.name('list'), at, items: [] };
          checkUnique(current, list.name, at);
          break;
        case LIST_ITEM:
          if (!list) throw this.fail('LIST_ITEM outside a list', at);
          list.items.push(this.value(`item of list "${list.name}"`));
          break;
        case LIST_END:
          if (!list) throw this.fail('LIST_END outside a list', at);
          setUnique(current, list.name, list.items, list.at);
          list = undefined;
          break;
        default:
          throw this.fail(`unknown element type ${type}`, at);
      }
    }
    if (list) throw this.fail(`list "${list.name}" (opened at offset ${list.at}) never closed`, this.pos);
    if (stack.length > 1) {
      const open = stack[stack.length - 1]!;
      throw this.fail(`section "${open.name}" (opened at offset ${open.at}) never closed`, this.pos);
    }
    return top;
  }

  private fail(problem: string, at: number): ViciProtocolError {
    return new ViciProtocolError(problem, at);
  }

  private name(what: string): string {
    const at = this.pos;
    if (at >= this.end) throw this.fail(`${what} name length missing (message ends)`, at);
    const length = this.bytes[this.pos++]!;
    if (this.pos + length > this.end) throw this.fail(`${what} name of ${length} bytes runs past the end (${this.end - this.pos} left)`, at);
    const name = this.bytes.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return name;
  }

  private value(what: string): string {
    const at = this.pos;
    if (at + 2 > this.end) throw this.fail(`${what}: length missing (message ends)`, at);
    const length = this.bytes.readUInt16BE(this.pos);
    this.pos += 2;
    if (this.pos + length > this.end) throw this.fail(`${what}: ${length} bytes run past the end (${this.end - this.pos} left)`, at);
    const value = this.bytes.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return value;
  }
}

function elementName(type: number): string {
  switch (type) {
    case SECTION_START: return 'SECTION_START';
    case SECTION_END: return 'SECTION_END';
    case KEY_VALUE: return 'KEY_VALUE';
    default: return `unknown element type ${type}`;
  }
}

/** Keys (of values, lists and sections alike) are unique per section. */
function checkUnique(open: OpenSection, key: string, at: number): void {
  const where = open.at < 0 ? 'the top level' : `section "${open.name}"`;
  if (Object.hasOwn(open.section, key)) throw new ViciProtocolError(`duplicate key "${key}" in ${where}`, at);
}

/** defineProperty, so a key like "__proto__" stays a plain key instead of replacing the prototype. */
function setUnique(open: OpenSection, key: string, value: ViciValue, at: number): void {
  checkUnique(open, key, at);
  Object.defineProperty(open.section, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Decodes a whole message; throws ViciProtocolError naming the problem and its offset. */
export function decodeMessage(bytes: Buffer): ViciSection {
  return new ElementReader(bytes, 0, bytes.length).decode();
}

/** Decodes one packet payload (without its length prefix). */
export function decodePacket(payload: Buffer): ViciPacket {
  if (payload.length === 0) throw new ViciProtocolError('empty packet (no type byte)', 0);
  const type = PACKET_TYPES[payload[0]!];
  if (type === undefined) throw new ViciProtocolError(`unknown packet type ${payload[0]}`, 0);
  let pos = 1;
  let name = '';
  if (NAMED.has(type)) {
    if (payload.length < 2) throw new ViciProtocolError(`${type} packet ends before its name length`, 1);
    const length = payload[1]!;
    if (length === 0) throw new ViciProtocolError(`${type} packet with an empty name`, 1);
    if (2 + length > payload.length) throw new ViciProtocolError(`${type} name of ${length} bytes runs past the end (${payload.length - 2} left)`, 1);
    name = payload.toString('utf8', 2, 2 + length);
    pos = 2 + length;
  }
  if (!WITH_MESSAGE.has(type)) {
    if (pos < payload.length) throw new ViciProtocolError(`${payload.length - pos} bytes of trailing garbage after a ${type} packet`, pos);
    return NAMED.has(type) ? { type: type as 'event-register' | 'event-unregister', name } : { type: type as 'cmd-unknown' | 'event-confirm' | 'event-unknown' };
  }
  const message = new ElementReader(payload, pos, payload.length).decode();
  if (type === 'cmd-response') return { type, message };
  return { type: type as 'cmd-request' | 'event', name, message };
}

/**
 * Splits a byte stream into packets. A segment cut short waits for more bytes; a bad one throws
 * ViciProtocolError (offsets count from the start of the stream) and every later feed throws it
 * again: past a framing error nothing in the stream can be trusted.
 */
export class PacketReader {
  private readonly maxSegmentBytes: number;
  private buffered: Buffer = Buffer.alloc(0);
  /** Stream offset of buffered[0]. */
  private consumed = 0;
  private failure: ViciProtocolError | undefined;
  /** Stream offset of the packet yielded last (to point at a packet that came when it should not). */
  lastPacketOffset = 0;

  constructor(maxSegmentBytes = VICI_MAX_SEGMENT_BYTES) {
    this.maxSegmentBytes = maxSegmentBytes;
  }

  /** Bytes of an incomplete segment held back; non-zero when a stream ends mid-packet. */
  get pendingBytes(): number {
    return this.buffered.length;
  }

  /** Takes a chunk and yields each packet now complete; what is not iterated stays for the next feed. */
  feed(chunk: Buffer): Generator<ViciPacket> {
    if (this.failure) throw this.failure;
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    return this.drain();
  }

  private *drain(): Generator<ViciPacket> {
    while (!this.failure && this.buffered.length >= LENGTH_BYTES) {
      const length = this.buffered.readUInt32BE(0);
      if (length === 0) this.fail(new ViciProtocolError('empty segment (length 0)', this.consumed));
      if (length > this.maxSegmentBytes) {
        this.fail(new ViciProtocolError(`segment of ${length} bytes exceeds the limit of ${this.maxSegmentBytes}`, this.consumed));
      }
      if (this.buffered.length < LENGTH_BYTES + length) return;
      const payload = this.buffered.subarray(LENGTH_BYTES, LENGTH_BYTES + length);
      let packet: ViciPacket;
      try {
        packet = decodePacket(payload);
      } catch (error) {
        if (!(error instanceof ViciProtocolError)) throw error;
        const start = this.consumed;
        this.fail(new ViciProtocolError(error.problem, start + LENGTH_BYTES + error.offset, ` of the stream (offset ${error.offset} of the packet starting at ${start})`));
      }
      this.lastPacketOffset = this.consumed;
      this.buffered = this.buffered.subarray(LENGTH_BYTES + length);
      this.consumed += LENGTH_BYTES + length;
      yield packet;
    }
    if (this.failure) throw this.failure;
  }

  private fail(error: ViciProtocolError): never {
    this.failure = error;
    this.buffered = Buffer.alloc(0);
    throw error;
  }
}
