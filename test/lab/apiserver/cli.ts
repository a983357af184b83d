import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCrdManifests } from './crd-files.ts';
import { startApiServer } from './server.ts';

const usage = 'usage: apiserver [--host 127.0.0.1] [--port 0] [--socket PATH] [--tls-cert FILE --tls-key FILE [--tls-socket PATH]] [--access] [--history-limit N] [--max-body-bytes N] [--crds FILE|DIR ... | --no-crds]';

function fail(message: string): never {
  process.stderr.write(`apiserver: ${message}\n${usage}\n`);
  process.exit(2);
}

function integerFlag(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) fail(`--${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  return Number(value);
}

let values: Record<string, string | boolean | string[] | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      host: { type: 'string' }, port: { type: 'string' }, socket: { type: 'string' },
      'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-socket': { type: 'string' },
      'history-limit': { type: 'string' }, 'max-body-bytes': { type: 'string' }, help: { type: 'boolean' },
      crds: { type: 'string', multiple: true }, 'no-crds': { type: 'boolean' },
      access: { type: 'boolean' },
    },
    strict: true, allowPositionals: false,
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const str = (v: string | boolean | string[] | undefined) => (typeof v === 'string' ? v : undefined);
if (values.host !== undefined && str(values.host) === '') fail('--host must not be empty');
if (values.socket !== undefined && str(values.socket) === '') fail('--socket must not be empty');

const options: Parameters<typeof startApiServer>[0] = { log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) };
const host = str(values.host);
const port = integerFlag(str(values.port), 'port', 0, 65535);
const socketPath = str(values.socket);
const historyLimit = integerFlag(str(values['history-limit']), 'history-limit', 1, 100_000_000);
const maxBodyBytes = integerFlag(str(values['max-body-bytes']), 'max-body-bytes', 1, 1024 * 1024 * 1024);
if (host !== undefined) options.host = host;
if (port !== undefined) options.port = port;
if (socketPath !== undefined) options.socketPath = socketPath;
if (historyLimit !== undefined) options.historyLimit = historyLimit;
if (maxBodyBytes !== undefined) options.maxBodyBytes = maxBodyBytes;
// Tokens and RBAC on the TCP port and the TLS socket; the plain --socket stays the lab's trusted way in.
if (values.access === true) options.access = {};
const tlsCert = str(values['tls-cert']);
const tlsKey = str(values['tls-key']);
const tlsSocket = str(values['tls-socket']);
if ((tlsCert === undefined) !== (tlsKey === undefined)) fail('--tls-cert and --tls-key go together');
if (tlsSocket !== undefined && tlsCert === undefined) fail('--tls-socket needs --tls-cert and --tls-key');
if (tlsCert !== undefined && tlsKey !== undefined) {
  try {
    options.tls = { cert: readFileSync(tlsCert, 'utf8'), key: readFileSync(tlsKey, 'utf8') };
  } catch (error) {
    fail(`cannot read the TLS certificate or key: ${(error as Error).message}`);
  }
  if (tlsSocket !== undefined) options.tlsSocketPath = tlsSocket;
}

// The CRDs created at start: every manifest in each --crds file or directory; none with --no-crds; Submariner's by default.
const crdDirs = Array.isArray(values.crds) ? values.crds : [];
if (values['no-crds'] && crdDirs.length > 0) fail('--crds and --no-crds exclude each other');
if (crdDirs.some((dir) => dir === '')) fail('--crds must not be empty');
if (values['no-crds']) options.crds = [];
else if (crdDirs.length > 0) {
  try {
    options.crds = crdDirs.flatMap((dir) => loadCrdManifests(dir));
  } catch (error) {
    fail(`cannot read the CRDs: ${(error as Error).message}`);
  }
}

let server;
try {
  server = await startApiServer(options);
} catch (error) {
  process.stderr.write(`apiserver: cannot start: ${(error as Error).message}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ url: server.url, socket: server.socketPath ?? null, pid: process.pid })}\n`);

const running = server;
const stop = (signal: string) => {
  process.stderr.write(`apiserver: ${signal}, shutting down\n`);
  running.close().then(() => process.exit(0), (error: unknown) => {
    process.stderr.write(`apiserver: error while closing: ${String(error)}\n`);
    process.exit(1);
  });
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
