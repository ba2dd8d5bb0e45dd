import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as sdk from '@modelcontextprotocol/sdk/types.js';
import { asMessage, LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from './json-rpc.js';

describe('JSON-RPC messages', () => {
  it('knows the protocol versions of the MCP SDK it ships with', () => {
    assert.equal(LATEST_PROTOCOL_VERSION, sdk.LATEST_PROTOCOL_VERSION);
    assert.deepEqual([...SUPPORTED_PROTOCOL_VERSIONS], [...sdk.SUPPORTED_PROTOCOL_VERSIONS]);
  });

  it('narrows requests, notifications and responses, and nothing else', () => {
    assert.ok(asMessage({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    assert.ok(asMessage({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    assert.ok(asMessage({ jsonrpc: '2.0', id: 'a', result: {} }));
    assert.equal(asMessage({ jsonrpc: '1.0', id: 1, method: 'x' }), null);
    assert.equal(asMessage({ jsonrpc: '2.0', id: {}, method: 'x' }), null);
    assert.equal(asMessage({ jsonrpc: '2.0', id: 1, method: 'x', params: [1] }), null);
    assert.equal(asMessage([{ jsonrpc: '2.0', id: 1, method: 'x' }]), null);
    assert.equal(asMessage({ jsonrpc: '2.0', id: 1 }), null);
  });
});
