from django.urls import path

from . import views

app_name = "simulators"

urlpatterns = [
    path("impot-sur-le-revenu/", views.income_tax, name="income_tax"),
    path("impot-sur-le-revenu/joindre/", views.attach, name="attach"),
]
