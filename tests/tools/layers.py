#!/usr/bin/python3
"""Fails when two source files call each other, directly or round a longer circle.

The guide's rule: data flows one way, and what two files both need belongs in a third, below them.
This reads the pfcore library the build made (one object per src/*.c): which global symbols each
object defines and which it uses, with nm. Object A depends on object B when A uses a symbol B
defines. Every strongly connected set of more than one object is a circle; each is printed with
the symbols that close it.

Usage: layers.py LIBPFCORE.a [MAIN.o ...]
"""
import subprocess
import sys


def read_symbols(paths):
    """{object name: (defined, used)} from `nm` of archives and objects."""
    objs = {}
    for path in paths:
        out = subprocess.run(["nm", "-A", path], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            # "lib.a:member.o:0000 T name" or "lib.a:member.o:         U name"
            head, _, rest = line.rpartition(":")
            fields = rest.split()
            if len(fields) < 2:
                continue
            member = head.split(":")[-1] if path.endswith(".a") else head
            name = member.rsplit("/", 1)[-1]
            for suffix in (".c.o", ".o"):
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
                    break
            defined, used = objs.setdefault(name, (set(), set()))
            kind, sym = fields[-2], fields[-1]
            if kind == "U":
                used.add(sym)
            elif kind in "TDBRCGSVWi":
                defined.add(sym)
    return objs


def circles(objs):
    """The strongly connected sets of more than one object, with the edges inside them."""
    owner = {}
    for name, (defined, _) in objs.items():
        for sym in defined:
            owner[sym] = name
    edges = {name: {} for name in objs}
    for name, (_, used) in objs.items():
        for sym in used:
            to = owner.get(sym)
            if to is not None and to != name:
                edges[name].setdefault(to, []).append(sym)
    # Tarjan, iteratively: the graph is small, but recursion limits are not worth the worry.
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    members = set(comp)
                    inner = {(a, b): sorted(syms) for a in comp for b, syms in edges[a].items() if b in members}
                    found.append((sorted(comp), inner))
    return found, edges


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    objs = read_symbols(argv[1:])
    linked = sum(1 for d, u in objs.values() if d or u)
    # An archive of LTO bytecode, or a wrong path, would show no symbols and no circles: refuse.
    if linked < 10:
        print("layers: only %d objects with symbols in %s: not a plain build of pfcore" % (linked, " ".join(argv[1:])),
              file=sys.stderr)
        return 2
    found, edges = circles(objs)
    calls = sum(len(e) for e in edges.values())
    # Objects that only carry a marker symbol (slim LTO bytecode read without the plugin) would
    # show files but no calls between them: that is no evidence of a one-way stack either.
    if calls < linked:
        print("layers: only %d file-to-file dependencies among %d files: the symbol tables look empty" % (calls, linked),
              file=sys.stderr)
        return 2
    if not found:
        print("layers: %d files, %d file-to-file dependencies, no circles" % (len(objs), calls))
        return 0
    for comp, inner in found:
        print("layers: these files call each other: %s" % " <-> ".join(comp), file=sys.stderr)
        for (a, b), syms in sorted(inner.items()):
            more = ", ..." if len(syms) > 4 else ""
            print("  %s.c uses %s.c: %s%s" % (a, b, ", ".join(syms[:4]), more), file=sys.stderr)
    print("layers: what both sides need belongs in a file below them", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
