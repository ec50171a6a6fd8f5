from tests.support import create_order, json_of, send


def test_created_order_can_be_read_back(client):
    created = create_order(client, user_email='ada@example.com')

    response = client.http.get(f"/orders/{created['order_id']}")

    assert response.status_code == 200
    assert response.headers['ETag'] == '"1"'
    assert json_of(response) == created
    assert created['order_total'] == 109.97


def test_status_change_bumps_version(client):
    created = create_order(client)

    response = send(client, 'PUT', f"/orders/{created['order_id']}", {'status': 'paid'},
                    {'If-Match': '"1"'})

    assert response.status_code == 200
    assert json_of(response)['version'] == 2
    assert response.headers['ETag'] == '"2"'
