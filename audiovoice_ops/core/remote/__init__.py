"""Workers on other hosts (``avops worker add|rm|ls``): Celery workers started on another Docker
Engine, reached over ssh, pointed at this stack's Redis.

- ``hosts``: the host URL rules, the host's slug, and the state file that remembers the hosts;
- ``redis``: which Redis URL a remote worker gets, and the refusal of an unprotected one;
- ``image``: the worker image on the remote engine (``docker save`` streamed into ``docker load``);
- ``workers``: the containers, planned from the compose ``celery`` service, started, listed, removed.
"""
