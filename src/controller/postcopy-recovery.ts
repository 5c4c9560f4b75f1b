// Controller side of resuming a broken post-copy: a fresh one-time cookie from the destination's new listener,
// the source's tunnel end (and the ssh relay, or with p2p the source host's own ssh), then the source sends the missing pages and the destination,
// once whole, runs the guest as a normal domain. Any failure leaves both sides paused for another attempt.
import { VmigError, isVmigError } from '../errors.js';
import type { HostConnection } from '../hosts/connection.js';
import type { P2pTarget } from '../transports/p2p.js';
import { relayStreams, type StreamRelay } from './stream-relay.js';

export type RecoveryTransport = 'direct' | 'tls' | 'ssh';

export async function resumePostcopy(
  source: HostConnection,
  destination: HostConnection,
  name: string,
  transport: RecoveryTransport,
  p2p?: P2pTarget,
): Promise<void> {
  let relay: StreamRelay | undefined;
  try {
    if (p2p && transport !== 'ssh') throw new VmigError('INTERNAL', `p2p resumes over ssh only, not ${transport}`);
    const { cookie } = await destination.call('recover.postcopy-listen', { name, transport });
    if (transport !== 'direct') {
      const { sockets } = await source.call('recover.postcopy-tunnel', { name, cookie, ...(p2p ? { p2p } : {}) });
      if (transport === 'ssh' && !p2p) relay = await relayStreams({ source, destination, cookie, sockets });
    }
    await source.call('recover.postcopy-resume', { name, cookie });
    await destination.call('recover.postcopy-finish', { name });
  } catch (error) {
    const detail = isVmigError(error) ? error.message : `${(error as Error).message}`;
    throw new VmigError(
      'NEEDS_RECOVERY',
      `resuming the post-copy of ${name} from ${source.label} to ${destination.label} over ${transport}${p2p ? ' (p2p)' : ''} failed: ${detail}. Both sides stay paused; run vmig recover again (--transport ssh needs no port between the hosts)`,
    );
  } finally {
    await relay?.close();
  }
}
