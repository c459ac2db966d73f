"""The Kubernetes target: rolling, canary and blue-green on the official `kubernetes` client.

`kubernetes` is imported only when the target first talks to a cluster (it costs ~0.5 s).
`rollout_status.py` and `undo.py` reproduce kubectl's `rollout status` and `rollout undo`;
`validation.py` says what is wrong before anything changes.
"""

from tools.deploy.targets.kubernetes.settings import KubernetesTargetConfig
from tools.deploy.targets.kubernetes.target import KubernetesTarget, build_kubernetes_target

__all__ = ["KubernetesTarget", "KubernetesTargetConfig", "build_kubernetes_target"]
