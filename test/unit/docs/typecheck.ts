/**
 * Type-checks TypeScript code blocks from the documentation with the project's compiler options,
 * as if each block were a module of the repository (so `agentlink`, `agentlink/testing` and
 * `agentlink/simulator` resolve to the sources through the tsconfig paths).
 */
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from './markdown.js';

/** A block to check. */
export interface SnippetInput {
  /** Where it comes from, for messages (`docs/testing.md:42`). */
  origin: string;
  /** The code. */
  code: string;
}

/** A compiler diagnostic in a snippet. */
export interface SnippetDiagnostic {
  /** The snippet's origin. */
  origin: string;
  /** 1-based line inside the snippet. */
  line: number;
  /** The message. */
  message: string;
}

/**
 * Type-checks every snippet as its own module in one program.
 *
 * @param snippets - the blocks.
 * @returns the diagnostics that point into snippets (errors in the sources themselves are not reported here).
 */
export function typecheckSnippets(snippets: readonly SnippetInput[]): SnippetDiagnostic[] {
  const configPath = join(ROOT, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
  const options: ts.CompilerOptions = { ...parsed.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false };
  const virtual = new Map<string, { origin: string; code: string }>();
  snippets.forEach((s, i) => virtual.set(join(ROOT, 'docs', `__snippet_${i}.ts`), s));
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const v = virtual.get(fileName);
    if (v) return ts.createSourceFile(fileName, v.code, languageVersion, true);
    return getSourceFile(fileName, languageVersion, onError, shouldCreate);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => virtual.has(fileName) || fileExists(fileName);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => virtual.get(fileName)?.code ?? readFile(fileName);
  const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host });
  const out: SnippetDiagnostic[] = [];
  for (const [fileName, v] of virtual) {
    const sf = program.getSourceFile(fileName);
    if (!sf) {
      out.push({ origin: v.origin, line: 0, message: 'not part of the program' });
      continue;
    }
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line + 1;
      out.push({ origin: v.origin, line, message: ts.flattenDiagnosticMessageText(d.messageText, '\n') });
    }
  }
  return out;
}
