import { describe, expect, it } from 'vitest';
import { chooseTransport, parseMigrateUri, requestedTransport } from '../../../src/controller/transport-choice.js';

describe('requestedTransport', () => {
  it('is encrypted (auto) when nothing is said', () => {
    expect(requestedTransport({})).toEqual({ request: 'auto', reason: 'encrypted by default' });
  });

  it('follows the flags, then the config file', () => {
    expect(requestedTransport({ direct: true }).request).toBe('direct');
    expect(requestedTransport({ tunnelled: true })).toEqual({ request: 'auto', reason: '--tunnelled' });
    expect(requestedTransport({ transport: 'ssh', configured: 'direct' })).toEqual({
      request: 'ssh',
      reason: '--transport ssh was given',
    });
    expect(requestedTransport({ configured: 'tls' })).toMatchObject({
      request: 'tls',
      reason: expect.stringContaining('config file'),
    });
    expect(requestedTransport({ tunnelled: true, configured: 'direct' }).request).toBe('auto');
    expect(requestedTransport({ direct: true, transport: 'direct' }).request).toBe('direct');
  });

  it('refuses contradictions and unknown names instead of picking one', () => {
    expect(() => requestedTransport({ direct: true, tunnelled: true })).toThrow(/contradict/);
    expect(() => requestedTransport({ direct: true, transport: 'tls' })).toThrow(/contradicts/);
    expect(() => requestedTransport({ tunnelled: true, transport: 'direct' })).toThrow(/contradicts/);
    expect(() => requestedTransport({ transport: 'udp' })).toThrow(/--transport takes auto, direct, tls, ssh/);
    expect(() => requestedTransport({ configured: 'rsh' })).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }));
  });
});

describe('chooseTransport', () => {
  const endpoint = { host: 'fd00::12', port: 49152 };
  const auto = { request: 'auto' as const, reason: '--tunnelled' };

  it('keeps an explicit transport whatever the probe says', () => {
    expect(chooseTransport({ request: 'direct', reason: '--direct was given' }, endpoint, undefined)).toEqual({
      transport: 'direct',
      encrypted: false,
      reason: '--direct was given',
    });
    expect(
      chooseTransport({ request: 'tls', reason: 'x' }, endpoint, { reachable: false, reason: 'timeout' }),
    ).toMatchObject({ transport: 'tls', encrypted: true });
  });

  it('auto: tls when the source reaches the endpoint', () => {
    const decision = chooseTransport(auto, endpoint, { reachable: true });
    expect(decision).toMatchObject({ transport: 'tls', encrypted: true });
    expect(decision.reason).toContain('[fd00::12]:49152');
  });

  it('auto: ssh when it cannot, or when there is no TLS listener, and says why', () => {
    const blocked = chooseTransport(auto, endpoint, { reachable: false, reason: 'no answer within 2 s' });
    expect(blocked).toMatchObject({ transport: 'ssh', encrypted: true });
    expect(blocked.reason).toMatch(/^--tunnelled; the source cannot reach .*no answer within 2 s.*SSH/);
    expect(chooseTransport(auto, undefined, undefined)).toMatchObject({
      transport: 'ssh',
      reason: expect.stringContaining('no TLS listener'),
    });
  });
});

describe('parseMigrateUri', () => {
  it('takes tcp:HOST[:PORT], IPv6 in brackets, and the tcp:// form', () => {
    expect(parseMigrateUri('tcp:10.0.9.12:49200')).toEqual({ host: '10.0.9.12', port: 49200 });
    expect(parseMigrateUri('tcp:hv2-mig')).toEqual({ host: 'hv2-mig' });
    expect(parseMigrateUri('tcp:[fd00:9::12]:49200')).toEqual({ host: 'fd00:9::12', port: 49200 });
    expect(parseMigrateUri('tcp://[fd00:9::12]')).toEqual({ host: 'fd00:9::12' });
    expect(parseMigrateUri('tcp://10.0.9.12:49200/')).toEqual({ host: '10.0.9.12', port: 49200 });
  });

  it('refuses other schemes, bare IPv6 and bad ports', () => {
    for (const bad of [
      '10.0.9.12:49200',
      'unix:/tmp/x',
      'tcp:fd00::12:49200',
      'tcp:h:0',
      'tcp:h:70000',
      'tcp:',
      'tcp:h:p',
    ]) {
      expect(() => parseMigrateUri(bad), bad).toThrow(/--migrate-uri takes tcp:HOST\[:PORT\]/);
    }
  });
});
