app_name = "trainer"

urlpatterns: list = []
