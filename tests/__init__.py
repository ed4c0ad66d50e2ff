# Nova picks its concurrency mode before anything else is imported, as Nova's
# own test packages do; native threads unless OS_NOVA_DISABLE_EVENTLET_PATCHING
# says otherwise, as nova-compute itself defaults to.
from nova import monkey_patch
monkey_patch.patch(backend='threading')
