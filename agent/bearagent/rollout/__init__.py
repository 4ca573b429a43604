"""Model rollout on the box: take a model the station offers, check it, switch to it.

The station's ``offer`` names a model by SHA-256 with its card; the box fetches the file
in ``chunk`` messages it asks for with ``fetch`` (resumable: a partial file in the state
folder), checks it as at start (card, SHA-256, graph, warm-up), re-embeds its gallery
with it (reference chips it lacks come from the station's media store, by hash), then
switches atomically (`bearagent.app.Agent.swap_embedder`) and runs it across restarts
(`model_in_use`). Each step is reported on the ``model`` channel; a model that fails a
check is refused with the reason and the box keeps its model. See docs/rollout.md.

- `manager`: the rollout's thread (`RolloutManager`), offers and reports;
- `job`: one offered model from fetch to switch;
- `handlers`: the publisher's ``offer`` and ``chunk`` handlers;
- `files`, `transfers`: resumable downloads and what to ask for;
- `verify`: the checks of a fetched model;
- `sources`, `embedding`, `staging`: re-embedding the gallery beside the running model;
- `switch`: the switch's one transaction, and the model in use after a restart;
- `offers`, `tables`, `payloads`: what the box keeps and sends.
"""

from bearagent.rollout.errors import ModelRefused, RolloutError, SwitchDeferred
from bearagent.rollout.manager import RolloutManager
from bearagent.rollout.switch import model_in_use

__all__ = ["ModelRefused", "RolloutError", "RolloutManager", "SwitchDeferred", "model_in_use"]
