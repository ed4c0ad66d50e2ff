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

from nova_usb_dashboard.dashboards.admin.usb_devices import views

# A device of a compute host, as the index table names its rows.
DEVICE = r'^(?P<host>[^/]+)/(?P<device_id>[^/]+)/'

urlpatterns = [
    re_path(r'^$', views.IndexView.as_view(), name='index'),
    re_path(DEVICE + r'grants/$', views.GrantsView.as_view(), name='grants'),
    re_path(DEVICE + r'grants/add/$', views.AddGrantView.as_view(),
            name='add_grant'),
]
