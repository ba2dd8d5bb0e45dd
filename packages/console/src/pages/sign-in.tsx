import { type FormEvent, useState } from 'react';
import { api } from '../api/client.js';
import type { Session } from '../api/types.js';
import { ErrorNotice, Notice } from '../ui/feedback.js';

/** Sign in with an email and password, or with an admin token (`cst_pat_…`). */
export function SignInPage({ onSignedIn, ended }: { onSignedIn: (s: Session) => void; ended: boolean }) {
  const [method, setMethod] = useState<'password' | 'token'>('password');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = method === 'token' ? { token: token.trim() } : { email: email.trim(), password };
      onSignedIn(await api<Session>('POST', '/api/v1/session', body));
    } catch (err) {
      setError(err);
      setPassword('');
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="center">
      <form className="card sign-in" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to Custos</h1>
        {ended && <Notice kind="info">Your session has ended. Please sign in again.</Notice>}
        <fieldset className="segmented">
          <legend className="sr-only">Sign in with</legend>
          <label>
            <input
              type="radio"
              name="method"
              checked={method === 'password'}
              onChange={() => setMethod('password')}
            />
            Email and password
          </label>
          <label>
            <input
              type="radio"
              name="method"
              checked={method === 'token'}
              onChange={() => setMethod('token')}
            />
            Admin token
          </label>
        </fieldset>
        {method === 'password' ? (
          <>
            <label className="field">
              <span>Email</span>
              <input
                name="email"
                type="email"
                autoComplete="username"
                required
                value={email}
                onChange={(e) => setEmail(e.target.value)}
              />
            </label>
            <label className="field">
              <span>Password</span>
              <input
                name="password"
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </label>
          </>
        ) : (
          <label className="field">
            <span>Admin token</span>
            <input
              name="token"
              type="password"
              autoComplete="off"
              spellCheck={false}
              placeholder="cst_pat_…"
              required
              value={token}
              onChange={(e) => setToken(e.target.value)}
            />
          </label>
        )}
        {error !== null && <ErrorNotice error={error} />}
        <button type="submit" disabled={busy} aria-busy={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="muted small">
          The session lasts up to 12 hours and ends after an hour without use. An admin sets passwords with{' '}
          <code>custos user set-password</code>.
        </p>
      </form>
    </main>
  );
}
