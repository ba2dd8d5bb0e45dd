/**
 * The platform schema (DESIGN.md §5). Entity and action names are a contract:
 * admins write policies with them.
 *
 * It has two parts. The core declares what Custos builds (agents, users,
 * teams) or relies on (scopes and audiences for `token:issue`); it cannot be
 * changed. The default extension declares the resources the gateway governs
 * (MCP servers and tools, HTTP APIs and routes) and their actions; an admin's
 * schema is added to it, or, when it redeclares any of its names, replaces it
 * and must then keep every contract name (see `schema.ts`).
 */
export const CORE_SCHEMA = `// Custos platform schema: core (not changeable)
entity Team;
entity User in [Team] {
  email: String,
  name: String,
  status: String,
  manager?: User,
};
entity Agent in [Team] {
  name: String,
  owner: User,
  team?: Team,
  status: String,
  environment: String,
  riskLevel: String,
  purpose: String,
  expiresAt: datetime,
  allowedScopes: Set<Scope>,
  allowedAudiences: Set<Audience>,
} tags String;
// OAuth: a scope an agent may be issued; an audience (RFC 8707 resource) it may get tokens for
entity Scope;
entity Audience;
action "token:issue" appliesTo { principal: [Agent], resource: [Scope, Audience] };
// Delegation (RFC 8693 token exchange): the person an agent acts for, every agent of the chain
// (first actor to current one), its depth, and the consent it derives from
type Delegation = { person: User, chain: Set<Agent>, depth: Long, consent: String };
// token:exchange: asked for the acting agent (the hop) and for the person (their rights)
action "token:exchange" appliesTo { principal: [Agent, User], resource: [Scope, Audience], context: { delegation: Delegation } };
`;

export const DEFAULT_EXTENSION = `// Custos platform schema: default extension (MCP servers and tools, HTTP APIs and routes)
entity McpServer;
entity Tool in [McpServer];
entity Api;
entity Route in [Api];
action "tools/call" appliesTo { principal: [Agent, User], resource: [Tool] };
action "resources/read", "prompts/get" appliesTo { principal: [Agent, User], resource: [McpServer] };
action "http:GET", "http:HEAD", "http:POST", "http:PUT", "http:PATCH", "http:DELETE"
  appliesTo { principal: [Agent, User], resource: [Route] };
`;

/** What every extension must keep: entity types (with the parent they must allow) and actions (with their resource type). */
export const CONTRACT_ENTITY_TYPES: Readonly<Record<string, string | null>> = {
  McpServer: null,
  Tool: 'McpServer',
  Api: null,
  Route: 'Api',
};
export const CONTRACT_ACTIONS: Readonly<Record<string, string>> = {
  'tools/call': 'Tool',
  'resources/read': 'McpServer',
  'prompts/get': 'McpServer',
  'http:GET': 'Route',
  'http:HEAD': 'Route',
  'http:POST': 'Route',
  'http:PUT': 'Route',
  'http:PATCH': 'Route',
  'http:DELETE': 'Route',
};

/** Types whose entities come only from the inventory: admins cannot store entities of these. */
export const INVENTORY_ENTITY_TYPES: ReadonlySet<string> = new Set(['Agent', 'User', 'Team']);
