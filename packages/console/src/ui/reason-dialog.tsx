import { type FormEvent, type ReactNode, useState } from 'react';
import { ErrorNotice } from './feedback.js';
import { Modal } from './modal.js';

/**
 * A confirmation with a required reason (recorded in the audit log), and
 * optionally a phrase to type for irreversible actions.
 */
export function ReasonDialog({
  open,
  title,
  action,
  danger = false,
  confirmPhrase,
  withReason = true,
  children,
  onClose,
  onConfirm,
}: {
  open: boolean;
  title: string;
  action: string;
  danger?: boolean;
  confirmPhrase?: string;
  /** False for actions the API records without a reason (a plain confirmation). */
  withReason?: boolean;
  children?: ReactNode;
  onClose: () => void;
  onConfirm: (reason: string) => Promise<void>;
}) {
  const [reason, setReason] = useState('');
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const close = () => {
    setReason('');
    setTyped('');
    setError(null);
    onClose();
  };
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm(reason.trim());
      setReason('');
      setTyped('');
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const blocked =
    (withReason && reason.trim() === '') || (confirmPhrase !== undefined && typed !== confirmPhrase);
  return (
    <Modal open={open} title={title} onClose={close}>
      <form onSubmit={submit} className="form">
        {children}
        {withReason && (
          <label className="field">
            <span>Reason (recorded in the audit log)</span>
            <textarea
              name="reason"
              rows={2}
              required
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
          </label>
        )}
        {confirmPhrase !== undefined && (
          <label className="field">
            <span>
              Type <code>{confirmPhrase}</code> to confirm
            </span>
            <input
              name="confirm"
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
              autoComplete="off"
            />
          </label>
        )}
        {error !== null && <ErrorNotice error={error} />}
        <div className="actions">
          <button
            type="submit"
            className={danger ? 'danger' : ''}
            disabled={busy || blocked}
            aria-busy={busy}
          >
            {busy ? 'Working…' : action}
          </button>
          <button type="button" className="secondary" onClick={close}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  );
}
