"""Public help centre URLs, under /help/ (docs/self-service.md, "Knowledge base")."""

from django.urls import path

from .views import public as views

app_name = "help"
urlpatterns = [
    path("", views.home, name="home"),
    path("sitemap.xml", views.sitemap, name="sitemap"),
    path("<slug:category>/", views.category, name="category"),
    path("<slug:category>/<slug:slug>/", views.article, name="article"),
    path("<slug:category>/<slug:slug>/vote/", views.vote, name="vote"),
]
