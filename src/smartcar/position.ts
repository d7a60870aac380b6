// A car's position as either API sends it, checked the same way: both v2 /location and v3
// location-preciselocation carry latitude and longitude as numbers.

/** A position only when both are numbers within the globe's ranges: anything else is no position, not a guess. */
export function validPosition(latitude: unknown, longitude: unknown): { latitude: number; longitude: number } | undefined {
  return typeof latitude === 'number' && typeof longitude === 'number' && Number.isFinite(latitude) && Number.isFinite(longitude)
    && Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180
    ? { latitude, longitude } : undefined;
}
