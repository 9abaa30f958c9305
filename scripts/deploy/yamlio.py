"""YAML as the generated files write it: mappings in block style, short lists of scalars on one line, keys in
the order they were built, and (compose.yaml) one anchor for a mapping several services merge."""

from __future__ import annotations

from typing import Any, Iterable, Optional

import yaml

SCALARS = (str, int, float, bool)


def dumper(anchored: Optional[object] = None, anchor: str = "settings") -> type:
    class Dumper(yaml.SafeDumper):
        def generate_anchor(self, node: yaml.Node) -> str:
            return anchor

        def ignore_aliases(self, data: Any) -> bool:
            return anchored is None or data is not anchored

    def sequence(self: yaml.SafeDumper, data: list) -> yaml.Node:
        flow = bool(data) and all(isinstance(item, SCALARS) for item in data) and sum(len(str(i)) for i in data) < 100
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    def mapping(self: yaml.SafeDumper, data: dict) -> yaml.Node:
        return self.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False)

    Dumper.add_representer(list, sequence)
    Dumper.add_representer(dict, mapping)
    return Dumper


def dump(data: Any, anchored: Optional[object] = None) -> str:
    text = yaml.dump(data, Dumper=dumper(anchored), sort_keys=False, width=200, allow_unicode=True)
    return text.replace("'<<':", "<<:")  # a merge key, which PyYAML quotes as if it were a string


def dump_all(documents: Iterable[Any]) -> str:
    return "---\n".join(dump(doc) for doc in documents)
