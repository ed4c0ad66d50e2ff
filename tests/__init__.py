# Nova picks its concurrency mode (eventlet, or native threads when
# OS_NOVA_DISABLE_EVENTLET_PATCHING is set, as tox does) before anything else
# is imported, as Nova's own test packages do.
from nova import monkey_patch
monkey_patch.patch()
