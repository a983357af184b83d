/**
 * The lab's certificate authority, made with the openssl on the machine: one CA per lab, and a
 * server certificate per API server signed by it, for the addresses clients dial. Clients are
 * given the CA (a kubeconfig's certificate-authority-data) and verify the server as against a
 * real cluster; nothing skips verification.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/kernel/exec.ts';

/** openssl makes an EC key and a certificate in well under a second; past this it hangs. */
const OPENSSL_TIMEOUT_MS = 20_000;
const CA_DAYS = '3650';
/** Within the 825 days macOS and browsers accept; the lab never lives that long. */
const SERVER_DAYS = '825';

export interface LabCa {
  certPath: string;
  keyPath: string;
  /** The CA certificate, PEM. */
  certPem: string;
}

export interface ServerCertificate {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

const openssl = (args: string[]) => run('openssl', args, { timeoutMs: OPENSSL_TIMEOUT_MS });
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** The CA certificate's file name in the directory it is made in. */
export const CA_CERT_FILE = 'ca.crt';

/** A new CA in `dir` (ca.crt, ca.key), named after the lab. */
export async function createLabCa(dir: string, name: string): Promise<LabCa> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, 'ca.key');
  await openssl([
    'req', '-x509', ...EC_KEY, '-keyout', keyPath, '-out', certPath, '-days', CA_DAYS, '-subj', `/CN=${name} lab CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certPath, keyPath, certPem: await readFile(certPath, 'utf8') };
}

/** What a server certificate is valid for: the IP addresses and DNS names clients dial. */
export interface ServerNames {
  commonName: string;
  ips: readonly string[];
  dnsNames?: readonly string[];
}

/** A server certificate for `names`, signed by `ca`, in `dir` as `<file>.crt` and `<file>.key`. */
export async function issueServerCertificate(ca: LabCa, dir: string, file: string, names: ServerNames): Promise<ServerCertificate> {
  if (names.ips.length + (names.dnsNames?.length ?? 0) === 0) throw new Error(`server certificate ${file}: no IP address or DNS name to be valid for`);
  const keyPath = join(dir, `${file}.key`);
  const csrPath = join(dir, `${file}.csr`);
  const certPath = join(dir, `${file}.crt`);
  const extPath = join(dir, `${file}.ext`);
  const altNames = [...names.ips.map((ip) => `IP:${ip}`), ...(names.dnsNames ?? []).map((dns) => `DNS:${dns}`)].join(',');
  await writeFile(extPath, `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=critical,CA:FALSE\n`);
  await openssl(['req', ...EC_KEY, '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${names.commonName}`]);
  await openssl([
    // A random serial of its own: -CAcreateserial's shared serial file is not safe for certificates issued at once.
    'x509', '-req', '-in', csrPath, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-out', certPath, '-days', SERVER_DAYS, '-extfile', extPath,
  ]);
  const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { certPath, keyPath, certPem, keyPem };
}
