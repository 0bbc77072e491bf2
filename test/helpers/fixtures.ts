/** Test card data (a well-known test PAN, never a real card) and a test address, shared by every test. */
export const testCard = { pan: '4111111111111111', exp: '2906', name: 'JANE DOE', cvv2: '987' };

export const testAddress = {
  firstName: 'Jane',
  lastName: 'Doe',
  line1: '10 Main St',
  zipCode: '10001',
  city: 'New York',
  countryCode: 'US',
};
