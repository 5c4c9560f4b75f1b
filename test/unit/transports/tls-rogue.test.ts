// Audit finding (high): the tls source must never stream to a server that shows a certificate instead of proving the
// one-time PSK, even a certificate that the trust store vouches for. A real TLS server on loopback plays the attacker,
// with a certificate for attacker.example signed by a CA that the source process trusts through NODE_EXTRA_CA_CERTS.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { certificateRefusal } from '../../../src/transports/tls.js';

const repo = join(import.meta.dirname, '..', '..', '..');
const builtTls = join(repo, 'dist', 'transports', 'tls.js');

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

/** A CA, and a server certificate for attacker.example that it signed. */
async function rogueCertificates(dir: string): Promise<{ ca: string; key: Buffer; cert: Buffer }> {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Rogue CA',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'srv.key',
      '-out',
      'srv.csr',
      '-subj',
      '/CN=attacker.example',
    ],
    dir,
  );
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=DNS:attacker.example,IP:127.0.0.1\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'srv.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'srv.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ],
    dir,
  );
  return {
    ca: join(dir, 'ca.pem'),
    key: await readFile(join(dir, 'srv.key')),
    cert: await readFile(join(dir, 'srv.pem')),
  };
}

describe('tls source against a certificate-bearing server', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmig-tls-rogue-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('classifies a PSK handshake (no certificate) as fine and any certificate as a refusal', () => {
    expect(certificateRefusal({})).toBeUndefined();
    expect(certificateRefusal(null)).toBeUndefined();
    expect(certificateRefusal({ subject: { CN: 'attacker.example' } } as unknown as tls.PeerCertificate)).toMatch(
      /certificate for attacker\.example/,
    );
  });

  it('sends the rogue server nothing, and says why, although the CA is trusted', async () => {
    expect(existsSync(builtTls), 'run the build first (npm test does)').toBe(true);
    const { ca, key, cert } = await rogueCertificates(dir);
    let received = 0;
    let handshakes = 0;
    const rogue = tls.createServer({ key, cert, minVersion: 'TLSv1.3' }, (socket) => {
      handshakes++;
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.on('error', () => undefined);
    });
    rogue.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => rogue.listen(0, '127.0.0.1', resolve));
    const port = (rogue.address() as { port: number }).port;
    // The source tunnel end runs in its own process so that NODE_EXTRA_CA_CERTS takes effect there.
    const script = `
      import { createConnection } from 'node:net';
      import { openTlsOutgoing } from ${JSON.stringify(builtTls)};
      const socketPath = ${JSON.stringify(join(dir, 'out.sock'))};
      const out = await openTlsOutgoing({ cookie: { migrationId: 'm-1', secret: 'a'.repeat(64) },
        endpoint: { host: '127.0.0.1', port: ${port} }, sockets: [{ path: socketPath, streams: ['ram'] }], log: () => {} });
      const qemu = createConnection(socketPath);
      qemu.on('error', () => {});
      qemu.on('connect', () => qemu.write(Buffer.alloc(1 << 20, 0x5a)));
      const started = Date.now();
      while (!out.failure() && Date.now() - started < 4000) await new Promise((r) => setTimeout(r, 20));
      console.log(JSON.stringify({ failure: out.failure() ?? null }));
      await out.end.close();
      qemu.destroy();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: ca },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve) => rogue.close(() => resolve()));
    expect(code, stderr).toBe(0);
    const { failure } = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { failure: string | null };
    expect(failure).toMatch(/certificate|self.signed|unable to (get|verify)/i);
    expect(received).toBe(0);
    expect(handshakes).toBeLessThanOrEqual(1);
  });
});
