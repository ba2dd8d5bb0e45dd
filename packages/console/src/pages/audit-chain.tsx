import { useState } from 'react';
import { api } from '../api/client.js';
import type { Checkpoint } from '../api/types.js';
import { relative, when } from '../lib/format.js';
import { useAsync } from '../lib/use-async.js';
import { Badge, ErrorNotice, Loading } from '../ui/feedback.js';

interface Head {
  readonly seq: number;
  readonly hash: string;
  readonly firstSeq: number | null;
}
interface Verification {
  readonly ok: boolean;
  readonly checked: number;
  readonly lastSeq: number;
  readonly checkpointsChecked: number;
  readonly badCheckpointSignatures: number;
  readonly prunedThrough?: number;
  readonly problem?: { readonly seq: number; readonly kind: string; readonly detail: string };
}

/** The chain: its head, the latest signed checkpoint, and a verification on demand. */
export function AuditChain() {
  const state = useAsync(async () => {
    const head = await api<Head>('GET', '/api/v1/audit/head');
    // checkpoints come every ~1,000 events: look near the head first, then everywhere
    let list = await api<{ items: Checkpoint[] }>(
      'GET',
      `/api/v1/audit/checkpoints?after=${Math.max(0, head.seq - 5000)}`,
    );
    if (list.items.length === 0)
      list = await api<{ items: Checkpoint[] }>('GET', '/api/v1/audit/checkpoints');
    return { head, checkpoint: list.items[list.items.length - 1] ?? null };
  }, []);
  const [verifying, setVerifying] = useState(false);
  const [verified, setVerified] = useState<Verification | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function verify() {
    setVerifying(true);
    setError(null);
    try {
      setVerified(await api<Verification>('GET', '/api/v1/audit/verify'));
    } catch (err) {
      setError(err);
    } finally {
      setVerifying(false);
    }
  }

  return (
    <section className="card chain" aria-labelledby="chain-title">
      <h2 id="chain-title">Hash chain</h2>
      {state.error !== null && <ErrorNotice error={state.error} onRetry={state.reload} />}
      {state.loading && state.slow && <Loading />}
      {state.data && (
        <div className="grid three">
          <div>
            <h3>Head</h3>
            <p>
              {state.data.head.seq} events
              {state.data.head.firstSeq !== null && state.data.head.firstSeq > 1
                ? ` (kept from #${state.data.head.firstSeq})`
                : ''}
            </p>
            <p className="mono small wrap">{state.data.head.hash}</p>
          </div>
          <div data-testid="checkpoint">
            <h3>Latest signed checkpoint</h3>
            {state.data.checkpoint ? (
              <>
                <p title={when(state.data.checkpoint.at)}>
                  covers #{state.data.checkpoint.size}, signed {relative(state.data.checkpoint.at)}
                </p>
                <details>
                  <summary>Signed note</summary>
                  <pre className="json">{state.data.checkpoint.note}</pre>
                </details>
              </>
            ) : (
              <p className="muted">No checkpoint yet (one is signed every 1,000 events or minute).</p>
            )}
          </div>
          <div aria-live="polite">
            <h3>Verification</h3>
            {verified ? (
              <div data-testid="verification">
                <p>
                  <Badge value={verified.ok ? 'success' : 'failure'} />{' '}
                  {verified.ok
                    ? `chain intact: ${verified.checked} events up to #${verified.lastSeq}, ${verified.checkpointsChecked} signed checkpoints`
                    : 'the chain does NOT verify'}
                </p>
                {verified.problem && (
                  <p className="field-error">
                    {verified.problem.kind} at #{verified.problem.seq}: {verified.problem.detail}
                  </p>
                )}
                {verified.badCheckpointSignatures > 0 && (
                  <p className="field-error">
                    {verified.badCheckpointSignatures} checkpoint(s) without a valid signature by the audit
                    key
                  </p>
                )}
                {verified.prunedThrough ? (
                  <p className="muted small">events 1–{verified.prunedThrough} were pruned and archived</p>
                ) : null}
              </div>
            ) : (
              <p className="muted">
                Recomputes every hash and checks the signed checkpoints. For an independent check, run{' '}
                <code>custos audit verify</code> with the key you recorded.
              </p>
            )}
            {error !== null && <ErrorNotice error={error} />}
            <button
              type="button"
              className="secondary small"
              onClick={() => void verify()}
              disabled={verifying}
            >
              {verifying ? 'Verifying…' : 'Verify now'}
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
