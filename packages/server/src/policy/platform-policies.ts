/**
 * Policies the platform always evaluates, besides the admin's set and the
 * grants. Their ids start with `custos:`, a prefix admins cannot use.
 *
 * The token allow-lists: an agent's `allowedScopes` and `allowedAudiences`
 * (fields of the agent, set through the admin API) are grants of `token:issue`
 * on those scopes and audiences. Admins can narrow them with `forbid` policies
 * or widen them with grants and `permit` policies on `token:issue`.
 */
export const PLATFORM_POLICIES: Readonly<Record<string, string>> = {
  'custos:token-allowed-scopes': `permit (principal is Agent, action == Action::"token:issue", resource is Scope)
  when { principal.allowedScopes.contains(resource) };`,
  'custos:token-allowed-audiences': `permit (principal is Agent, action == Action::"token:issue", resource is Audience)
  when { principal.allowedAudiences.contains(resource) };`,
};

/** Reserved id prefixes: platform policies, and grants (their links are named by grant id). */
export const RESERVED_POLICY_ID = /^(custos:|grt_)/;

/**
 * The pseudo-policy that denies everything to an agent that is not active
 * (suspended, decommissioned) or past its expiry. It is checked on the stored
 * agent before any policy, so request properties cannot lift it.
 */
export const AGENT_INACTIVE = 'custos:agent-inactive';

/** The same for a person (a `User` principal): unknown or deactivated people are denied everything. */
export const USER_INACTIVE = 'custos:user-inactive';
