"""Per-cluster default resources and scales, as Jobmon's Tool and TaskTemplate keep them."""

from __future__ import annotations

from typing import Any, Dict

from . import resources as res


class ClusterDefaults:
    """The four setters Tool and TaskTemplate share. Only the entry of the cluster the
    tasks run on applies. `_defaults_owner` names the holder in error messages; a
    holder with `_set_claims_cluster` makes the cluster of a `set_*` call its default
    (a template), otherwise only the first cluster given becomes it (a tool)."""

    _set_claims_cluster = False
    default_cluster_name: str
    _resources: Dict[str, Dict[str, Any]]
    _scales: Dict[str, Dict[str, Any]]

    @property
    def _defaults_owner(self) -> str:
        raise NotImplementedError

    def _use_cluster(self, cluster_name: str, claim: bool) -> None:
        if claim:
            self.default_cluster_name = cluster_name
        else:
            self.default_cluster_name = self.default_cluster_name or cluster_name

    def set_default_compute_resources_from_dict(
        self, cluster_name: str, compute_resources: Dict[str, Any]
    ) -> None:
        label = f"{self._defaults_owner} compute_resources"
        self._resources[cluster_name] = res.compute_resources(compute_resources, label)
        self._use_cluster(cluster_name, self._set_claims_cluster)

    def update_default_compute_resources(self, cluster_name: str, **kwargs: Any) -> None:
        label = f"{self._defaults_owner} compute_resources"
        self._resources.setdefault(cluster_name, {}).update(res.compute_resources(kwargs, label))
        self._use_cluster(cluster_name, False)

    def set_default_resource_scales_from_dict(
        self, cluster_name: str, resource_scales: Dict[str, Any]
    ) -> None:
        label = f"{self._defaults_owner} resource_scales"
        self._scales[cluster_name] = res.resource_scales(resource_scales, label)
        self._use_cluster(cluster_name, self._set_claims_cluster)

    def update_default_resource_scales(self, cluster_name: str, **kwargs: Any) -> None:
        label = f"{self._defaults_owner} resource_scales"
        self._scales.setdefault(cluster_name, {}).update(res.resource_scales(kwargs, label))
        self._use_cluster(cluster_name, False)
