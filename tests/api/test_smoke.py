def test_health(server, tenant):
    response = tenant.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_create_campaign_and_targets(tenant):
    campaign = tenant.create_campaign()
    assert campaign["status"] == "active"
    response = tenant.client.post(
        f"/api/v1/campaigns/{campaign['id']}/targets",
        json={"targets": [{"phone_number": "+12015550123", "input_data": {"a": 1}}], "launch": True},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] == 1 and body["launched"] == 1
    target = tenant.client.get(f"/api/v1/targets/{body['target_ids'][0]}").json()
    assert target["status"] == "Scheduled"
