import { createContext, useContext } from 'react';
import type { Session } from '../api/types.js';

export interface SessionInfo {
  readonly session: Session;
  readonly role: string;
  /** Admins change anything; owners change their own agents; auditors change nothing. */
  readonly canManageAgents: boolean;
  readonly isAdmin: boolean;
  readonly canReadAudit: boolean;
  readonly canReadPolicies: boolean;
  signOut(): Promise<void>;
}

export const SessionContext = createContext<SessionInfo | null>(null);

export function useSession(): SessionInfo {
  const info = useContext(SessionContext);
  if (!info) throw new Error('INVARIANT: useSession outside the signed-in app');
  return info;
}

export function sessionInfo(session: Session, signOut: () => Promise<void>): SessionInfo {
  const role = session.actor.role;
  return {
    session,
    role,
    canManageAgents: role === 'admin' || role === 'owner',
    isAdmin: role === 'admin',
    canReadAudit: role === 'admin' || role === 'auditor',
    canReadPolicies: role === 'admin' || role === 'auditor',
    signOut,
  };
}
