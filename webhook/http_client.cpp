#include "webhook/http_client.hpp"
