import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseForm } from './form.js';

/** What the WHATWG parser (`URLSearchParams`) reads from `body`, repeated names kept. */
function reference(body: string): Map<string, string[]> {
  const form = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(body)) form.set(name, [...(form.get(name) ?? []), value]);
  return form;
}

describe('parseForm', () => {
  it('reads the forms the token endpoint gets, repeated parameters kept in order', () => {
    const form = parseForm(
      'grant_type=client_credentials&scope=read+write&resource=https%3A%2F%2Fa.example%2F&resource=https%3A%2F%2Fb.example&flag&=v&&x=a%2Bb',
    );
    assert.deepEqual(
      [...form],
      [
        ['grant_type', ['client_credentials']],
        ['scope', ['read write']],
        ['resource', ['https://a.example/', 'https://b.example']],
        ['flag', ['']],
        ['', ['v']],
        ['x', ['a+b']],
      ],
    );
  });

  it('reads what URLSearchParams reads: stray %, bytes that are not UTF-8, NUL, non-ASCII text', () => {
    for (const body of [
      'a=%zz&b=1',
      'a=%C3&b=%C3%A9',
      'a=%ED%A0%80',
      'a=%00&%00=b',
      'name=caf\u00e9&x=\u{1F600}%F0%9F%98%80',
      'a==b=c',
      '%',
      '&&&',
      '',
      '=',
      '+=+',
      'a=\uD800&b=%41\uDC00',
      '?a=1&b=2',
      '??a=1',
      '?',
      '?&?=x',
      'a=1?b=2&?c',
    ]) {
      assert.deepEqual(parseForm(body), reference(body), body);
    }
  });

  it('agrees with URLSearchParams on any text made of form characters', () => {
    const piece = fc.constantFrom(
      'a',
      'Z',
      '0',
      '=',
      '&',
      '?',
      '+',
      '%',
      '%2',
      '%20',
      '%C3%A9',
      '%E2%82',
      '%zz',
      '\u00e9',
      '~',
      ' ',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const body = pieces.join('');
        assert.deepEqual(parseForm(body), reference(body));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof(
            fc.constantFrom('%', '&', '=', '?', '+', '\uD800', '\uDFFF'),
            fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
          ),
          maxLength: 60,
        }),
        (body) => {
          assert.deepEqual(parseForm(body), reference(body));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
