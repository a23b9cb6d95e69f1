#!/usr/bin/env bash
# What a user gets from Galaxy works: the artifact `make build` made (.cache/build) passes Galaxy's
# importer (offline, scripts/galaxy-importer.cfg) and antsibull-docs' collection docs lint, installs
# into an empty collections path, and there renders and validates a Talos machine config with the
# schemas it carries -- from a temporary folder, with no checkout and no ../shared in sight.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
artifact=$(ls "$ROOT"/.cache/build/hybridops-talos-*.tar.gz 2>/dev/null || true)
[ -n "$artifact" ] || { echo "artifact: no artifact in .cache/build; run make build first" >&2; exit 1; }
work=$(mktemp -d /tmp/hybridops-artifact.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A clean environment: no collections path, no schema override, only the venv's tools on PATH.
run() { env -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_COLLECTIONS_PATHS -u ANSIBLE_ROLES_PATH -u HYBRIDOPS_TALOS_SCHEMA_DIR \
          -u ANSIBLE_CONFIG HOME="$work/home" PATH="$BIN:/usr/bin:/bin" "$@"; }
mkdir -p "$work/home"

echo "artifact: galaxy-importer $(basename "$artifact")"
if ! (cd "$work" && run GALAXY_IMPORTER_CONFIG="$ROOT/scripts/galaxy-importer.cfg" "$BIN/python" -m galaxy_importer.main \
        "$artifact" >"$work/importer.log" 2>&1); then
  grep -E 'ERROR|WARNING' "$work/importer.log" | head -40; tail -5 "$work/importer.log"; exit 1
fi
warnings=$(grep -E '^(WARNING|ERROR)' "$work/importer.log" || true)
if [ -n "$warnings" ]; then echo "$warnings"; echo "artifact: galaxy-importer warned (above)"; exit 1; fi

# Install into an empty collections path; the dependency collections come from the venv's `ansible`
# package (site-packages/ansible_collections), never from Galaxy.
(cd "$work" && run ANSIBLE_COLLECTIONS_PATH="$work/collections" "$BIN/ansible-galaxy" collection install --no-deps -p "$work/collections" "$artifact" >/dev/null)
installed=$work/collections/ansible_collections/hybridops/talos
[ -f "$installed/talos_schemas/v1.9.json" ] || { echo "artifact: the installed collection has no talos_schemas/" >&2; exit 1; }

echo "artifact: antsibull-docs lint-collection-docs --plugin-docs"
(cd "$work" && run ANSIBLE_COLLECTIONS_PATH="$work/collections" "$BIN/antsibull-docs" lint-collection-docs --plugin-docs "$installed")

echo "artifact: render and validate a machine config with the installed collection"
cat > "$work/render.yml" <<'PLAY'
- name: Render and validate with the installed collection
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Make a secrets bundle
      hybridops.talos.talos_secrets:
        path: "{{ playbook_dir }}/state/secrets.yaml"
    - name: Render and validate a control-plane config for Talos v1.9 and one for v1.13
      hybridops.talos.talos_machineconfig:
        state: rendered
        secrets: "{{ playbook_dir }}/state/secrets.yaml"
        dest: "{{ playbook_dir }}/state/{{ item }}.yaml"
        role: controlplane
        cluster_name: artifact
        cluster_endpoint: https://k8s.example.net:6443
        talos_version: "{{ item }}"
        kubernetes_version: 1.32.3
        hostname: cp-0
      loop: [v1.9.6, v1.13.9]
    - name: A config the schema rejects is refused
      hybridops.talos.talos_machineconfig:
        secrets: "{{ playbook_dir }}/state/secrets.yaml"
        role: worker
        cluster_name: artifact
        cluster_endpoint: https://k8s.example.net:6443
        talos_version: v1.9.6
        kubernetes_version: 1.32.3
        hostname: w-0
        node_patches:
          - machine: {install: {disk: 5}}
      register: refused
      ignore_errors: true
    - name: The refusal came from the schema
      ansible.builtin.assert:
        that:
          - refused is failed
          - "'does not match the Talos v1.9 schema' in refused.msg"
        fail_msg: "expected a schema refusal, got: {{ refused.msg | default(refused) }}"
PLAY
(cd "$work" && run ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_PYTHON_INTERPRETER="$BIN/python" \
   ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_NOCOLOR=1 "$BIN/ansible-playbook" -i localhost, -c local render.yml >"$work/render.log" 2>&1) \
  || { tail -40 "$work/render.log"; exit 1; }
grep -q 'failed=0' "$work/render.log" || { tail -40 "$work/render.log"; exit 1; }
# The playbooks ship too and run by their FQCN from the installed collection.
(cd "$work" && run ANSIBLE_COLLECTIONS_PATH="$work/collections" "$BIN/ansible-playbook" --syntax-check \
   -i "$ROOT/examples/inventory/seed.yml" hybridops.talos.site >"$work/syntax.log" 2>&1) || { tail -20 "$work/syntax.log"; exit 1; }
grep -q "$work/collections/ansible_collections/hybridops/talos/playbooks/site.yml" "$work/syntax.log" \
  || { echo "artifact: hybridops.talos.site did not come from the installed artifact" >&2; cat "$work/syntax.log"; exit 1; }
for version in v1.9.6 v1.13.9; do
  [ -s "$work/state/$version.yaml" ] || { echo "artifact: no rendered config for $version" >&2; exit 1; }
done
echo "artifact: passes galaxy-importer and antsibull-docs, installs cleanly, renders and validates configs with its own schemas"
