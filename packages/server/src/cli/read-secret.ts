import { readFile } from 'node:fs/promises';
import { CliError } from './api-client.js';

/** Drops one trailing newline (what `echo` and editors add), nothing else. */
const chomp = (text: string) => text.replace(/\r?\n$/, '');

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (data: string) => {
      for (const ch of data) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new CliError('cancelled', 130));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * A secret for a command, never from its arguments (they show in `ps` and shell
 * history): from `file` when given, else from standard input when it is not a
 * terminal (a pipe), else typed twice at a prompt that does not echo.
 */
export async function readSecret(what: string, file: string | undefined): Promise<string> {
  if (file !== undefined) {
    try {
      return chomp(await readFile(file, 'utf8'));
    } catch (error) {
      throw new CliError(`cannot read ${what} from \`${file}\`: ${(error as Error).message}`);
    }
  }
  if (!process.stdin.isTTY) return chomp(await readAll(process.stdin));
  const first = await promptHidden(`${what}: `);
  const second = await promptHidden(`${what} again: `);
  if (first !== second) throw new CliError(`the two ${what}s differ`);
  return first;
}
