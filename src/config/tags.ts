// fail2ban's recursive `<tag>` substitution between a filter's options (substituteRecursiveTags):
// `failregex = <mdre-<mode>>` picks `mdre-normal` when mode is normal. Tags that name no option
// (`<HOST>`, `<F-USER>`, ...) stay for the regex compiler.
import { UserError } from '../errors.js';

const TAG = /<([^ <>]+)>/g;
/** fail2ban's MAX_TAG_REPLACE_COUNT */
const MAX_REPLACE = 25;

/**
 * Replace `<name>` in every value by the value of option `name` (from `tags`, else `lookup`),
 * repeatedly, until nothing more resolves. Self-reference or runaway recursion is a UserError
 * naming the option; `describe(name)` gives its file:line for the message.
 */
export function substituteTags(
  input: ReadonlyMap<string, string>,
  ignore: ReadonlySet<string>,
  lookup: (name: string) => string | undefined,
  describe: (name: string) => string,
): Map<string, string> {
  const tags = new Map(input);
  const done = new Set<string>();
  const counts = new Map<string, Map<string, number>>();
  for (;;) {
    let again = false;
    for (const tag of [...tags.keys()]) {
      if (ignore.has(tag) || done.has(tag)) continue;
      const orig = tags.get(tag)!;
      let value = orig;
      const rplc = counts.get(tag) ?? new Map<string, number>();
      TAG.lastIndex = 0;
      let m = TAG.exec(value);
      while (m) {
        const rtag = m[1]!;
        if (ignore.has(rtag)) {
          m = TAG.exec(value);
          continue;
        }
        if (rtag === tag || (rplc.get(rtag) ?? 1) > MAX_REPLACE) {
          throw new UserError(`${describe(tag)}: <${rtag}> refers back to itself; the tags cannot be resolved`);
        }
        const repl = tags.get(rtag) ?? lookup(rtag);
        if (repl === undefined) {
          m = TAG.exec(value);
          continue;
        }
        value = value.split(`<${rtag}>`).join(repl);
        rplc.set(rtag, (rplc.get(rtag) ?? 0) + 1);
        // search again from where the replaced tag started: the replacement may hold tags
        TAG.lastIndex = m.index;
        m = TAG.exec(value);
      }
      if (value !== orig) {
        TAG.lastIndex = 0;
        if (TAG.test(value)) {
          counts.set(tag, rplc);
          again = true;
        }
        tags.set(tag, value);
      }
      if (!value.includes('<')) done.add(tag);
    }
    if (!again) return tags;
  }
}
