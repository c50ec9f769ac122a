"""A CycloneDX 1.5 JSON SBOM made from the manifest: PyPI packages as pkg:pypi purls, the
interpreter, and the bundled system libraries with their OS packages where known."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from urllib.parse import quote

from uv_portable.prove.manifest import dumps

SPEC_VERSION = "1.5"


def _pypi(dist: dict[str, Any]) -> dict[str, Any]:
    purl = f"pkg:pypi/{quote(dist['canonical_name'])}@{quote(dist['version'])}"
    return {
        "type": "library",
        "bom-ref": purl,
        "name": dist["name"],
        "version": dist["version"],
        "purl": purl,
    }


def _library(lib: dict[str, Any], os_id: str) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": f"bundled:{lib['soname']}",
        "name": lib["soname"],
        "hashes": [{"alg": "SHA-256", "content": lib["sha256"]}],
        "properties": [{"name": "uv-portable:bundled-from", "value": lib["from"]}],
    }
    package = lib.get("os_package")
    if package:
        component["version"] = package["version"]
        component["description"] = f"from the {package['manager']} package {package['name']}"
        if package["manager"] == "dpkg" and os_id:
            component["purl"] = (
                f"pkg:deb/{quote(os_id)}/{quote(package['name'])}@{quote(package['version'])}"
            )
        elif package["manager"] == "rpm" and os_id:
            component["purl"] = (
                f"pkg:rpm/{quote(os_id)}/{quote(package['name'])}@{quote(package['version'])}"
            )
    return component


def make_sbom(manifest: dict[str, Any]) -> dict[str, Any]:
    """The SBOM of an export, from its manifest; deterministic like the manifest."""
    interp = manifest["interpreter"]
    os_id = str(manifest["platform"].get("build_os", ""))
    python_ref = f"pkg:generic/cpython@{interp['version']}"
    components = [
        {
            "type": "application",
            "bom-ref": python_ref,
            "name": "cpython",
            "version": interp["version"],
            "purl": python_ref,
            "description": f"the {interp['kind']} base interpreter",
        },
        *(_pypi(d) for d in manifest["distributions"]),
        *(_library(lib, os_id) for lib in manifest["bundled_libraries"]),
    ]
    tool = manifest["tool"]
    body: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "tools": {
                "components": [
                    {"type": "application", "name": tool["name"], "version": tool["version"]}
                ]
            },
            "component": {
                "type": "application",
                "bom-ref": "portable-environment",
                "name": "portable-environment",
            },
        },
        "components": components,
        "dependencies": [
            {
                "ref": "portable-environment",
                "dependsOn": sorted(str(c["bom-ref"]) for c in components),
            }
        ],
    }
    digest = hashlib.sha256(dumps(body)).hexdigest()
    body["serialNumber"] = uuid.uuid5(uuid.NAMESPACE_URL, f"uv-portable:{digest}").urn
    return body
