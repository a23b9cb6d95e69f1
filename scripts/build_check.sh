#!/usr/bin/env bash
# Build the collection artifact the way a clean clone would (tracked and new files only, nothing
# git-ignored), and prove what is in it: the Talos schemas with their licence, no lab/tests/benchmarks,
# and no secrets -- a secrets folder left in the checkout is kept out by galaxy.yml's build_ignore too.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/.cache/build
rm -rf "$out"; mkdir -p "$out"
src=$(bash scripts/collection_copy.sh "$out/src")
# Decoys where secrets land by mistake (git ignores them, so the copy above never has them).
for decoy in secrets/lab playbooks/secrets/lab; do
  mkdir -p "$src/$decoy" && printf 'decoy\n' > "$src/$decoy/secrets.yaml" && printf 'decoy\n' > "$src/$decoy/talosconfig"
done
ansible-galaxy collection build --force --output-path "$out" "$src" >/dev/null
artifact=$(ls "$out"/hybridops-talos-*.tar.gz)
listing=$(tar -tzf "$artifact")
fail=0
bad=$(grep -E '^(lab|tests|benchmarks|scripts|\.lab|\.venv|\.cache|\.ci)(/|$)' <<<"$listing" || true)
if [ -n "$bad" ]; then
  echo "build: the artifact holds files that are not collection content:"; echo "$bad" | head -20; fail=1
fi
# A secrets folder, or a file named like what it holds (a task file of that name is fine).
secret=$(grep -E '(^|/)secrets(/|$)|(^|/)(talosconfig|kubeconfig|secrets\.ya?ml)$|\.(key|age)$' <<<"$listing" \
         | grep -vE '^roles/[^/]+/tasks/[^/]+\.yml$' || true)
if [ -n "$secret" ]; then
  echo "build: the artifact holds secrets or a secrets folder:"; echo "$secret" | head -20; fail=1
fi
for need in talos_schemas/v1.9.json talos_schemas/v1.13.json talos_schemas/LICENSE talos_schemas/NOTICE \
            roles/preflight/README.md roles/hcloud_nodes/README.md roles/proxmox_nodes/README.md roles/talos_cluster/README.md \
            roles/talos_backup/README.md roles/talos_restore/README.md; do
  grep -qx "$need" <<<"$listing" || { echo "build: the artifact lacks $need"; fail=1; }
done
[ $fail = 0 ] || exit 1
echo "build: $(basename "$artifact") ($(wc -l <<<"$listing") entries): schemas and role READMEs in, no lab/tests/benchmarks, no secrets"
