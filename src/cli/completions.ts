/**
 * @module
 * Shell completion scripts generated from the command tree, so they never
 * drift from the real commands. Pure.
 */

/** The part of a command tree completions need. */
export interface CommandSpec {
  readonly name: string;
  readonly options: readonly string[];
  readonly commands: readonly CommandSpec[];
}

function walk(
  spec: CommandSpec,
  path: string[],
  out: { path: string[]; spec: CommandSpec }[],
): void {
  out.push({ path, spec });
  for (const c of spec.commands) walk(c, [...path, c.name], out);
}

/** bash: complete subcommands by position and options of the deepest command. */
export function bashCompletion(root: CommandSpec): string {
  const all: { path: string[]; spec: CommandSpec }[] = [];
  walk(root, [], all);
  const cases = all.map(({ path, spec }) => {
    const words = [...spec.commands.map((c) => c.name), ...spec.options].join(" ");
    return `    "${path.join(" ")}") words="${words}" ;;`;
  }).join("\n");
  return `# bash completion for ${root.name}; source it or put it in /etc/bash_completion.d/
_${root.name}_complete() {
  local cur path="" w i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "\${path:+$path }$w" in
${
    all.slice(1).map(({ path }) => `      "${path.join(" ")}") path="${path.join(" ")}" ;;`).join(
      "\n",
    )
  }
    esac
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _${root.name}_complete ${root.name}
`;
}

/** zsh: reuse the bash function through bashcompinit. */
export function zshCompletion(root: CommandSpec): string {
  return `# zsh completion for ${root.name}
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(root)}`;
}

/** fish: one `complete` line per subcommand and option. */
export function fishCompletion(root: CommandSpec): string {
  const all: { path: string[]; spec: CommandSpec }[] = [];
  walk(root, [], all);
  const lines = [`# fish completion for ${root.name}`, `complete -c ${root.name} -f`];
  for (const { path, spec } of all) {
    const cond = path.length === 0
      ? "__fish_use_subcommand"
      : `__fish_seen_subcommand_from ${path[path.length - 1]}`;
    for (const c of spec.commands) lines.push(`complete -c ${root.name} -n '${cond}' -a ${c.name}`);
    for (const o of spec.options) {
      if (o.startsWith("--")) lines.push(`complete -c ${root.name} -n '${cond}' -l ${o.slice(2)}`);
    }
  }
  return lines.join("\n") + "\n";
}
