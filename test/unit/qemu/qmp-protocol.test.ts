import { describe, expect, it, vi } from 'vitest';
import { QmpCommandError, QmpProtocol, type QmpEvent } from '../../../src/qemu/qmp-protocol.js';

const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}\r\n';

function setup() {
  const written: Array<Record<string, unknown>> = [];
  const events: QmpEvent[] = [];
  const onGreeting = vi.fn();
  const qmp = new QmpProtocol(
    (text) => written.push(JSON.parse(text)),
    (event) => events.push(event),
    onGreeting,
  );
  return { qmp, written, events, onGreeting };
}

describe('QmpProtocol', () => {
  it('calls back on the greeting and keeps it', () => {
    const { qmp, onGreeting } = setup();
    qmp.receive(GREETING.slice(0, 20));
    expect(onGreeting).not.toHaveBeenCalled();
    qmp.receive(GREETING.slice(20));
    expect(onGreeting).toHaveBeenCalledOnce();
    expect(qmp.greeting).toMatchObject({ version: { qemu: { major: 7, minor: 2 } } });
  });

  it('writes execute with arguments and a unique id', () => {
    const { qmp, written } = setup();
    void qmp.execute('qmp_capabilities');
    void qmp.execute('migrate-set-capabilities', { capabilities: [] });
    expect(written[0]).toEqual({ execute: 'qmp_capabilities', id: 'vmig-1' });
    expect(written[1]).toEqual({ execute: 'migrate-set-capabilities', arguments: { capabilities: [] }, id: 'vmig-2' });
  });

  it('matches returns by id when they arrive out of order and split across chunks', async () => {
    const { qmp, written } = setup();
    qmp.receive(GREETING);
    const status = qmp.execute('query-status');
    const migrate = qmp.execute('query-migrate');
    const [first, second] = written.map((message) => message.id);
    const replies = `{"return": {"status": "active"}, "id": "${second}"}\n{"return": {"status": "running", "running": true}, "id": "${first}"}\n`;
    qmp.receive(replies.slice(0, 17));
    qmp.receive(Buffer.from(replies.slice(17, 60)));
    qmp.receive(replies.slice(60));
    await expect(status).resolves.toEqual({ status: 'running', running: true });
    await expect(migrate).resolves.toEqual({ status: 'active' });
  });

  it('rejects with QmpCommandError carrying the error class', async () => {
    const { qmp, written } = setup();
    const result = qmp.execute('migrate-incoming', { uri: 'tcp:0:4444' });
    qmp.receive(
      `{"error": {"class": "GenericError", "desc": "The incoming migration has already been started"}, "id": "${written[0]!.id}"}\n`,
    );
    const error = await result.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(QmpCommandError);
    expect(error).toMatchObject({ command: 'migrate-incoming', errorClass: 'GenericError' });
    expect((error as Error).message).toBe('migrate-incoming: The incoming migration has already been started');
  });

  it('delivers events and does not mistake them for replies', async () => {
    const { qmp, written, events } = setup();
    const pending = qmp.execute('cont');
    qmp.receive(
      '{"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "MIGRATION", "data": {"status": "completed"}}\n',
    );
    qmp.receive(`{"return": {}, "id": "${written[0]!.id}"}\n`);
    await expect(pending).resolves.toEqual({});
    expect(events).toEqual([
      { timestamp: { seconds: 1700000000, microseconds: 5 }, event: 'MIGRATION', data: { status: 'completed' } },
    ]);
  });

  it('fail() rejects everything pending', async () => {
    const { qmp } = setup();
    const a = qmp.execute('query-status');
    const b = qmp.execute('query-migrate');
    const closed = new Error('QMP socket closed');
    qmp.fail(closed);
    await expect(a).rejects.toBe(closed);
    await expect(b).rejects.toBe(closed);
  });
});

describe('qemuErrorText', () => {
  it("shows QEMU's error, not the TCG warnings before it", async () => {
    const { qemuErrorText } = await import('../../../src/qemu/process.js');
    const stderr =
      "qemu-system-x86_64: warning: TCG doesn't support requested feature: CPUID.07H:EBX.avx512f [bit 16]\nqemu: invalid kernel header\n";
    expect(qemuErrorText(stderr)).toBe('invalid kernel header');
    expect(
      qemuErrorText(
        "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\nqemu-system-x86_64: -drive file=/x: Could not open '/x': No such file or directory\n",
      ),
    ).toBe("-drive file=/x: Could not open '/x': No such file or directory");
    // Only warnings: better those than nothing.
    expect(qemuErrorText('qemu-system-x86_64: warning: something odd\n')).toBe('warning: something odd');
    expect(qemuErrorText('')).toBe('');
  });
});
