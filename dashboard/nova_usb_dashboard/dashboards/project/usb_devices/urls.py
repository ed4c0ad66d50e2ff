#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

from django.urls import re_path
from django.views.generic import base

from nova_usb_dashboard.dashboards.project.usb_devices import views

SERVER = r'^(?P<instance_id>[^/]+)/'

urlpatterns = [
    # Horizon links a panel to its index: the instances, whose detail
    # pages hold the USB tab.
    re_path(r'^$', base.RedirectView.as_view(
        pattern_name='horizon:project:instances:index'), name='index'),
    re_path(SERVER + r'attach/$', views.AttachView.as_view(), name='attach'),
    re_path(SERVER + r'devices/$', views.DevicesView.as_view(),
            name='devices'),
    re_path(SERVER + r'devices/(?P<device_id>[^/]+)/detach/$',
            views.DetachView.as_view(), name='detach'),
    re_path(SERVER + r'controllers/add/$', views.AddControllerView.as_view(),
            name='add_controller'),
    re_path(SERVER + r'controllers/(?P<index>[0-9]+)/remove/$',
            views.RemoveControllerView.as_view(), name='remove_controller'),
]
