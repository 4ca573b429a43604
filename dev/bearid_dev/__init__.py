"""bearid's development harness: never installed with the agent, never imported by it.

What the tests, the benchmarks and the demo share: a private Mosquitto
(`mosquitto`: TLS, passwords, ACLs, stop, kill, restart), one MQTT subscriber
(`subscriber`), starting and stopping the agent (`agent`), and the one-command
demo (`demo`, run by ``tools/demo.sh``). It is put on the import path by pytest's
``pythonpath`` option, by ``tools/demo.sh`` and by the agent benchmarks.
"""
