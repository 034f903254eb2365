#include "actors/registry_connection.hpp"
