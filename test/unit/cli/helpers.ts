import { Writable } from 'node:stream';
import type { CliIo } from '../../../src/cli/io.js';

/** A writable that keeps what was written. */
export class Capture extends Writable {
  chunks: string[] = [];
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk.toString());
    cb();
  }
  get text(): string {
    return this.chunks.join('');
  }
  get lines(): string[] {
    return this.text.split('\n').filter((l) => l !== '');
  }
}

/** A CliIo writing into captures. */
export function testIo(over: Partial<CliIo> = {}): CliIo & { stdout: Capture; stderr: Capture } {
  return { stdout: new Capture(), stderr: new Capture(), env: {}, ...over } as CliIo & { stdout: Capture; stderr: Capture };
}
