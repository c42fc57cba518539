# Usage: python3 csaf_count.py <dir with rhsa-*.json> old|new   (prints per-RHSA and total)
# Independent count of CSAF statements per RHSA: distinct (release, name, src?, state)
# over product_status, where the release comes from the platform CPE and the package
# from the component purl. mode "old": every known_not_affected kept; mode "new": a
# known_not_affected .src is dropped when the same vulnerability lists, in the same
# release, a fixed/affected product with the same EVR or name; a not-affected binary is
# dropped when the same binary name is fixed/affected there.
import json, glob, sys, re
from urllib.parse import unquote
root = sys.argv[1]; mode = sys.argv[2]
def cpe_rel(c):
    p = c.split(':')
    prod, ver = p[3], p[4]
    if prod in ('enterprise_linux', 'rhel_els'): return 'rhel:' + ver.split('.')[0]
    if prod.startswith('rhel_'): return 'rhel:' + ver
    return prod + ':' + ver
def purl(u):
    if not u.startswith('pkg:rpm/'): return None
    rest = u[8:]; path, _, q = rest.partition('?')
    path, _, ver = path.rpartition('@')
    qs = dict(kv.split('=', 1) for kv in q.split('&') if '=' in kv)
    ver = unquote(ver)
    if 'epoch' in qs and ':' not in ver: ver = qs['epoch'] + ':' + ver
    return unquote(path.split('/')[-1]), ver, qs.get('arch')
total = 0
for f in sorted(glob.glob(root + '/**/rhsa-*.json', recursive=True)):
    d = json.load(open(f))
    cpe, pu, rel = {}, {}, {}
    def walk(b):
        p = b.get('product')
        if p:
            h = p.get('product_identification_helper', {})
            if 'cpe' in h: cpe[p['product_id']] = h['cpe']
            if 'purl' in h: pu[p['product_id']] = h['purl']
        for c in b.get('branches', []): walk(c)
    for b in d['product_tree'].get('branches', []): walk(b)
    for r in d['product_tree'].get('relationships', []):
        rel[r['full_product_name']['product_id']] = (r['product_reference'], r['relates_to_product_reference'])
    stmts = set()
    for v in d['vulnerabilities']:
        flags = {p: fl['label'] for fl in v.get('flags', []) for p in fl['product_ids']}
        rows = []
        for key, ids in v['product_status'].items():
            for pid in ids:
                if pid not in rel or rel[pid][1] not in cpe or rel[pid][0] not in pu: continue
                comp = purl(pu[rel[pid][0]])
                if not comp: continue
                rows.append((key, cpe_rel(cpe[rel[pid][1]]), comp, flags.get(pid)))
        aff = [(r, c) for k, r, c, _ in rows if k in ('fixed', 'first_fixed', 'known_affected')]
        for k, r, (name, evr, arch), fl in rows:
            if k == 'known_not_affected' and mode == 'new':
                if arch == 'src' and any(r2 == r and (c[1] == evr or c[0] == name) for r2, c in aff): continue
                if arch != 'src' and any(r2 == r and c[0] == name and c[2] != 'src' for r2, c in aff): continue
            if k in ('fixed', 'first_fixed'): state = ('fixed', evr)
            elif k == 'known_affected': state = ('affected',)
            elif k == 'known_not_affected': state = ('na', fl)
            else: continue
            stmts.add((r, name, arch == 'src', state))
    print(d['document']['tracking']['id'], len(stmts))
    total += len(stmts)
print('total', total)
