"""The role's own catalogue (roles/gitops/defaults/main.yml), its two class placeholders resolved as the role does."""
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))
SITES = {'critical': 'fsn1', 'home': 'home'}
CLASSES = {'hcloud-volumes': 'fsn1', 'proxmox-zfs': 'home'}
LABEL = 'hybridops.io/site'


def catalogue():
    with open(os.path.join(ROOT, 'roles', 'gitops', 'defaults', 'main.yml'), encoding='utf-8') as handle:
        text = handle.read()
    text = text.replace('"{{ gitops_critical_storage_class }}"', 'hcloud-volumes').replace('"{{ gitops_home_storage_class }}"', 'proxmox-zfs')
    defaults = yaml.safe_load(text)
    return defaults['gitops_catalogue'], defaults['gitops_services']
